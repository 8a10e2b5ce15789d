#!/usr/bin/env python3
"""MTQ sidecar: the MT5 bridge protocol v1 through the official ``MetaTrader5`` Python package.

An alternative to the MtqBridge Expert Advisor for users who prefer the terminal's Python
integration (Windows, ``pip install MetaTrader5``). Like the EA it is a thin relay: it connects to
MTQ on 127.0.0.1, says ``hello`` with the shared token, answers MTQ's requests with the package's
functions, pushes ticks of subscribed symbols and heartbeats, and reconnects with backoff. Every
decision (symbol names, filling mode, volumes, prices, stops, retries, reconciliation) is made by
MTQ in Rust. Protocol: docs/mt5-bridge.md ("Python sidecar").

Standard library plus ``MetaTrader5`` only. The password is never printed; prefer the
environment variables (MT5_PASSWORD, MTQ_MT5_TOKEN) to command-line arguments, which other
local users can see in the process list.
"""

import argparse
import json
import logging
import math
import os
import select
import socket
import sys
import time

PROTOCOL = 1
SIDECAR_VERSION = "1.0.0-py"
MAX_LINE = 1024 * 1024  # longest line accepted from MTQ, as the EA
BACKOFF_MIN = 1.0
BACKOFF_MAX = 30.0
QUARTER_HOUR = 900
MAX_OFFSET = 14 * 3600

# MQL5 error codes the Rust connector understands.
ERR_INVALID_PARAMETER = 4003
ERR_UNKNOWN_REQUEST = 4014
ERR_MARKET_UNKNOWN_SYMBOL = 4301

# The MqlTradeRequest action each trade request carries (docs/mt5-bridge.md, "Trade requests").
ACTION_OF = {
    "order_send": ("TRADE_ACTION_DEAL", "TRADE_ACTION_PENDING"),
    "order_check": ("TRADE_ACTION_DEAL", "TRADE_ACTION_PENDING"),
    "position_close": ("TRADE_ACTION_DEAL",),
    "position_modify": ("TRADE_ACTION_SLTP",),
    "order_cancel": ("TRADE_ACTION_REMOVE",),
}
ERR_HISTORY_NOT_FOUND = 4401
# MetaTrader5 package: the call may have reached the terminal (IPC send/receive/timeout failures).
IPC_UNCERTAIN = (-10001, -10002, -10005)

log = logging.getLogger("mtq_sidecar")

# ----- enumerations: the package gives integers, the protocol wants MT5's names -----------------

# (name, value in the real package); the module's own constant wins when it has one.
_ENUMS = {
    "margin_mode": [
        ("ACCOUNT_MARGIN_MODE_RETAIL_NETTING", 0),
        ("ACCOUNT_MARGIN_MODE_EXCHANGE", 1),
        ("ACCOUNT_MARGIN_MODE_RETAIL_HEDGING", 2),
    ],
    "exemode": [
        ("SYMBOL_TRADE_EXECUTION_REQUEST", 0),
        ("SYMBOL_TRADE_EXECUTION_INSTANT", 1),
        ("SYMBOL_TRADE_EXECUTION_MARKET", 2),
        ("SYMBOL_TRADE_EXECUTION_EXCHANGE", 3),
    ],
    "trade_mode": [
        ("SYMBOL_TRADE_MODE_DISABLED", 0),
        ("SYMBOL_TRADE_MODE_LONGONLY", 1),
        ("SYMBOL_TRADE_MODE_SHORTONLY", 2),
        ("SYMBOL_TRADE_MODE_CLOSEONLY", 3),
        ("SYMBOL_TRADE_MODE_FULL", 4),
    ],
    "swap_mode": [
        ("SYMBOL_SWAP_MODE_DISABLED", 0),
        ("SYMBOL_SWAP_MODE_POINTS", 1),
        ("SYMBOL_SWAP_MODE_CURRENCY_SYMBOL", 2),
        ("SYMBOL_SWAP_MODE_CURRENCY_MARGIN", 3),
        ("SYMBOL_SWAP_MODE_CURRENCY_DEPOSIT", 4),
        ("SYMBOL_SWAP_MODE_INTEREST_CURRENT", 5),
        ("SYMBOL_SWAP_MODE_INTEREST_OPEN", 6),
        ("SYMBOL_SWAP_MODE_REOPEN_CURRENT", 7),
        ("SYMBOL_SWAP_MODE_REOPEN_BID", 8),
        ("SYMBOL_SWAP_MODE_CURRENCY_PROFIT", 9),
    ],
    "day": [
        ("SUNDAY", 0), ("MONDAY", 1), ("TUESDAY", 2), ("WEDNESDAY", 3),
        ("THURSDAY", 4), ("FRIDAY", 5), ("SATURDAY", 6),
    ],
    "position_type": [("POSITION_TYPE_BUY", 0), ("POSITION_TYPE_SELL", 1)],
    "order_type": [
        ("ORDER_TYPE_BUY", 0),
        ("ORDER_TYPE_SELL", 1),
        ("ORDER_TYPE_BUY_LIMIT", 2),
        ("ORDER_TYPE_SELL_LIMIT", 3),
        ("ORDER_TYPE_BUY_STOP", 4),
        ("ORDER_TYPE_SELL_STOP", 5),
        ("ORDER_TYPE_BUY_STOP_LIMIT", 6),
        ("ORDER_TYPE_SELL_STOP_LIMIT", 7),
        ("ORDER_TYPE_CLOSE_BY", 8),
    ],
    "order_time": [
        ("ORDER_TIME_GTC", 0),
        ("ORDER_TIME_DAY", 1),
        ("ORDER_TIME_SPECIFIED", 2),
        ("ORDER_TIME_SPECIFIED_DAY", 3),
    ],
    "filling": [
        ("ORDER_FILLING_FOK", 0),
        ("ORDER_FILLING_IOC", 1),
        ("ORDER_FILLING_RETURN", 2),
        ("ORDER_FILLING_BOC", 3),
    ],
    "action": [
        ("TRADE_ACTION_DEAL", 1),
        ("TRADE_ACTION_PENDING", 5),
        ("TRADE_ACTION_SLTP", 6),
        ("TRADE_ACTION_MODIFY", 7),
        ("TRADE_ACTION_REMOVE", 8),
        ("TRADE_ACTION_CLOSE_BY", 10),
    ],
    "deal_type": [
        ("DEAL_TYPE_BUY", 0),
        ("DEAL_TYPE_SELL", 1),
        ("DEAL_TYPE_BALANCE", 2),
        ("DEAL_TYPE_CREDIT", 3),
        ("DEAL_TYPE_CHARGE", 4),
        ("DEAL_TYPE_CORRECTION", 5),
        ("DEAL_TYPE_BONUS", 6),
        ("DEAL_TYPE_COMMISSION", 7),
        ("DEAL_TYPE_COMMISSION_DAILY", 8),
        ("DEAL_TYPE_COMMISSION_MONTHLY", 9),
        ("DEAL_TYPE_COMMISSION_AGENT_DAILY", 10),
        ("DEAL_TYPE_COMMISSION_AGENT_MONTHLY", 11),
        ("DEAL_TYPE_INTEREST", 12),
        ("DEAL_TYPE_BUY_CANCELED", 13),
        ("DEAL_TYPE_SELL_CANCELED", 14),
        ("DEAL_DIVIDEND", 15),
        ("DEAL_DIVIDEND_FRANKED", 16),
        ("DEAL_TAX", 17),
    ],
    "deal_entry": [
        ("DEAL_ENTRY_IN", 0),
        ("DEAL_ENTRY_OUT", 1),
        ("DEAL_ENTRY_INOUT", 2),
        ("DEAL_ENTRY_OUT_BY", 3),
    ],
    "deal_reason": [
        ("DEAL_REASON_CLIENT", 0),
        ("DEAL_REASON_MOBILE", 1),
        ("DEAL_REASON_WEB", 2),
        ("DEAL_REASON_EXPERT", 3),
        ("DEAL_REASON_SL", 4),
        ("DEAL_REASON_TP", 5),
        ("DEAL_REASON_SO", 6),
        ("DEAL_REASON_ROLLOVER", 7),
        ("DEAL_REASON_VMARGIN", 8),
        ("DEAL_REASON_SPLIT", 9),
    ],
    "timeframe": [
        ("PERIOD_M1", 1), ("PERIOD_M5", 5), ("PERIOD_M15", 15), ("PERIOD_M30", 30),
        ("PERIOD_H1", 16385), ("PERIOD_H4", 16388), ("PERIOD_D1", 16408),
        ("PERIOD_W1", 32769), ("PERIOD_MN1", 49153),
    ],
}


def _package_name(name):
    """The package's constant for an MQL5 name (the package says TIMEFRAME_ for PERIOD_)."""
    if name.startswith("PERIOD_"):
        return "TIMEFRAME_" + name[len("PERIOD_"):]
    return name


class Enums:
    """Name <-> value tables built from the package's own constants where it has them."""

    def __init__(self, mt5):
        self.by_value = {}
        self.by_name = {}
        for kind, pairs in _ENUMS.items():
            values, names = {}, {}
            for name, default in pairs:
                value = getattr(mt5, _package_name(name), default)
                if isinstance(value, bool) or not isinstance(value, int):
                    value = default
                values.setdefault(value, name)
                names[name] = value
            self.by_value[kind] = values
            self.by_name[kind] = names

    def name(self, kind, value):
        """MT5's name for a value, as EnumToString prints it (the number when unknown)."""
        try:
            return self.by_value[kind].get(int(value), str(int(value)))
        except (TypeError, ValueError):
            return str(value)

    def value(self, kind, name, default=None):
        return self.by_name[kind].get(name, default)


# ----- JSON --------------------------------------------------------------------------------------


def _clean(x):
    """Makes a value JSON-safe: finite floats, valid Unicode, plain Python types."""
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return x if math.isfinite(x) else 0
    if isinstance(x, str):
        # A lone surrogate cannot be encoded as UTF-8; MTQ's JSON parser would refuse its escape.
        return x.encode("utf-8", "replace").decode("utf-8")
    if isinstance(x, dict):
        return {str(_clean(k)): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item"):  # numpy scalar
        return _clean(x.item())
    return _clean(str(x))


def encode(msg_id, msg_type, fields=None):
    """One protocol line: {"v":1,"id":N,"type":T,...} and a newline, as UTF-8 bytes."""
    obj = {"v": PROTOCOL, "id": int(msg_id), "type": msg_type}
    for k, v in (fields or {}).items():
        if k not in ("v", "id", "type"):
            obj[k] = v
    text = json.dumps(_clean(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8")


def num(x, digits=8):
    """A double as the EA writes it (DoubleToString(x, digits)): finite, rounded."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(x):
        return 0
    r = round(x, digits)
    if r == int(r) and abs(r) < 2**53:
        return int(r)
    return r


def integer(x):
    try:
        return int(x)
    except (TypeError, ValueError):
        return 0


class LineReader:
    """Splits a byte stream into lines of at most ``max_line`` bytes; longer lines are skipped
    up to the next newline without being buffered (as the EA and MTQ do)."""

    def __init__(self, max_line=MAX_LINE):
        self.max_line = max(1, max_line)
        self.buf = bytearray()
        self.discarding = False
        self.dropped = 0

    def push(self, data):
        lines = []
        start = 0
        n = len(data)
        while start < n:
            nl = data.find(b"\n", start)
            end = n if nl < 0 else nl
            chunk = data[start:end]
            complete = nl >= 0
            start = end + 1 if complete else n
            if self.discarding:
                if complete:
                    self.discarding = False
                continue
            if len(self.buf) + len(chunk) > self.max_line:
                self.buf = bytearray()
                self.dropped += 1
                self.discarding = not complete
                continue
            self.buf += chunk
            if complete:
                line = bytes(self.buf)
                self.buf = bytearray()
                if line.endswith(b"\r"):
                    line = line[:-1]
                if line.strip():
                    lines.append(line)
        return lines


def parse_line(line):
    """A line from MTQ as a dict with v == 1, an integer id and a string type; None otherwise."""
    try:
        msg = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(msg, dict):
        return None
    if msg.get("v") != PROTOCOL or isinstance(msg.get("v"), bool):
        return None
    mid, mtype = msg.get("id"), msg.get("type")
    if isinstance(mid, bool) or not isinstance(mid, int) or mid < 0 or not isinstance(mtype, str):
        return None
    return msg


# ----- rates: numpy structured arrays or lists of records ----------------------------------------

RATE_FIELDS = ("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume")


def rate_rows(rates):
    """Yields dicts from what copy_rates_* returned: a numpy structured array (the real
    package), or a sequence of namedtuples, dicts or plain tuples in MqlRates order."""
    if rates is None:
        return
    dtype = getattr(rates, "dtype", None)
    names = getattr(dtype, "names", None) if dtype is not None else None
    for row in rates:
        if names:
            yield {n: row[n] for n in names}
        elif isinstance(row, dict):
            yield row
        elif hasattr(row, "_asdict"):
            yield row._asdict()
        elif hasattr(row, "dtype") and getattr(row.dtype, "names", None):
            yield {n: row[n] for n in row.dtype.names}
        elif all(hasattr(row, f) for f in RATE_FIELDS[:5]):
            yield {f: getattr(row, f, 0) for f in RATE_FIELDS}
        else:
            yield dict(zip(RATE_FIELDS, tuple(row)))


# ----- the relay ---------------------------------------------------------------------------------


class Reply(Exception):
    """A failure answered to MTQ: error code and comment (data null)."""

    def __init__(self, error, comment, data=None):
        super().__init__(comment)
        self.error = error or 1
        self.comment = comment
        self.data = data


class NoReply(Exception):
    """The request's outcome is unknown: say nothing, MTQ times out and reconciles."""


class Bridge:
    """Answers MTQ's requests with the MetaTrader5 package. No socket here: ``handle`` takes a
    parsed request and returns the reply fields (or None), so it is testable on its own."""

    def __init__(self, mt5, offset_override=None, clock=time.time):
        self.mt5 = mt5
        self.enums = Enums(mt5)
        self.clock = clock
        self.offset_override = offset_override
        self.offset = offset_override if offset_override is not None else 0
        self.freshest = None
        self.subs = {}
        self.digits_cache = {}

    # ----- helpers

    def last_error(self):
        try:
            err = self.mt5.last_error()
            code, text = int(err[0]), str(err[1])
        except Exception:  # noqa: BLE001 - the package's own failure
            return -1, "unknown error"
        return code, text

    def digits(self, symbol):
        d = self.digits_cache.get(symbol)
        if d is None:
            info = self.mt5.symbol_info(symbol) if symbol else None
            d = integer(getattr(info, "digits", 0)) if info is not None else 0
            if info is not None:
                self.digits_cache[symbol] = d
        return d if d > 0 else 8

    def price(self, symbol, x):
        return num(x, self.digits(symbol))

    def estimate_offset(self, force=False):
        """The server's UTC offset from the freshest quote time in Market Watch (server seconds)
        against this machine's UTC clock, rounded to 15 minutes. Recomputed only when a quote
        arrived since the last look (a stale quote would give a wrong offset), or when forced."""
        if self.offset_override is not None:
            return self.offset
        try:
            syms = self.mt5.symbols_get() or ()
            latest = max((integer(getattr(s, "time", 0)) for s in syms
                          if getattr(s, "select", False)), default=0)
        except Exception:  # noqa: BLE001
            latest = 0
        if latest <= 0:
            return self.offset
        moved = self.freshest is not None and latest > self.freshest
        first = self.freshest is None
        self.freshest = latest
        if moved or first or force:
            raw = latest - int(self.clock())
            q = int(round(raw / QUARTER_HOUR)) * QUARTER_HOUR
            if abs(q) <= MAX_OFFSET:
                if q != self.offset:
                    log.info("trade server offset from UTC: %+d s", q)
                self.offset = q
        return self.offset

    def times(self):
        """TimeTradeServer() and TimeGMT() equivalents."""
        gmt = int(self.clock())
        return gmt + self.offset, gmt

    def hello(self, token):
        """The hello fields, or None when the terminal is not logged in yet."""
        mt5 = self.mt5
        term = mt5.terminal_info()
        acc = mt5.account_info()
        if term is None or acc is None:
            return None
        self.estimate_offset(force=True)
        server_now, gmt = self.times()
        return {
            "token": token,
            "ea_version": SIDECAR_VERSION,
            "terminal_build": integer(getattr(term, "build", 0)),
            "terminal_name": str(getattr(term, "name", "")),
            "login": integer(acc.login),
            "server": str(acc.server),
            "company": str(getattr(acc, "company", "")),
            "currency": str(acc.currency),
            "leverage": integer(acc.leverage),
            "margin_mode": self.enums.name("margin_mode", acc.margin_mode),
            "terminal_trade_allowed": bool(getattr(term, "trade_allowed", False)),
            # No EA: the terminal's "Disable algorithmic trading via external Python API" option.
            "ea_trade_allowed": not bool(getattr(term, "tradeapi_disabled", False)),
            "time_trade_server": server_now,
            "time_gmt": gmt,
        }

    def heartbeat(self):
        self.estimate_offset()
        server_now, gmt = self.times()
        return {"time_trade_server": server_now, "time_gmt": gmt}

    @staticmethod
    def field(req, name, kind, default=None):
        v = req.get(name, default)
        if kind is str:
            if not isinstance(v, str):
                raise Reply(ERR_INVALID_PARAMETER, "field %s: expected a string" % name)
        elif kind is int:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise Reply(ERR_INVALID_PARAMETER, "field %s: expected an integer" % name)
            v = int(v)
        elif kind is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise Reply(ERR_INVALID_PARAMETER, "field %s: expected a number" % name)
            v = float(v)
        return v

    # ----- dispatch

    def handle(self, req):
        """Reply fields (retcode, retcode_external, comment, error, data) for a request, or None
        when MTQ must not get an answer (outcome unknown)."""
        kind = req.get("type")
        handler = HANDLERS.get(kind)
        if handler is None:
            return fail(ERR_UNKNOWN_REQUEST, "unknown request type %s" % kind)
        try:
            return handler(self, req)
        except Reply as r:
            return {"retcode": 0, "retcode_external": 0, "comment": r.comment, "error": r.error,
                    "data": r.data}
        except NoReply:
            return None

    # ----- data requests

    def do_account(self, req):
        a = self.mt5.account_info()
        if a is None:
            code, text = self.last_error()
            raise Reply(code, "account_info failed: %s" % text)
        return ok({
            "login": integer(a.login),
            "server": str(a.server),
            "currency": str(a.currency),
            "balance": num(a.balance),
            "equity": num(a.equity),
            "margin": num(a.margin),
            "margin_free": num(a.margin_free),
            "margin_level": num(a.margin_level),
            "leverage": integer(a.leverage),
            "margin_mode": self.enums.name("margin_mode", a.margin_mode),
            "trade_allowed": bool(a.trade_allowed),
            "trade_expert": bool(a.trade_expert),
        })

    def do_symbol_info(self, req):
        s = self.field(req, "symbol", str)
        i = self.mt5.symbol_info(s)
        if i is None:
            raise Reply(ERR_MARKET_UNKNOWN_SYMBOL, "unknown symbol %s" % s)
        e = self.enums
        self.digits_cache[s] = integer(i.digits)
        return ok({
            "name": str(i.name),
            "select": bool(i.select),
            "visible": bool(i.visible),
            "digits": integer(i.digits),
            "point": num(i.point, 10),
            "trade_tick_size": num(i.trade_tick_size, 10),
            "trade_tick_value": num(i.trade_tick_value),
            "trade_contract_size": num(i.trade_contract_size),
            "volume_min": num(i.volume_min),
            "volume_max": num(i.volume_max),
            "volume_step": num(i.volume_step),
            "trade_stops_level": integer(i.trade_stops_level),
            "trade_freeze_level": integer(i.trade_freeze_level),
            "filling_mode": integer(i.filling_mode),
            "trade_exemode": e.name("exemode", i.trade_exemode),
            "trade_mode": e.name("trade_mode", i.trade_mode),
            "swap_mode": e.name("swap_mode", i.swap_mode),
            "swap_long": num(i.swap_long),
            "swap_short": num(i.swap_short),
            "swap_rollover3days": e.name("day", i.swap_rollover3days),
            "currency_base": str(i.currency_base),
            "currency_profit": str(i.currency_profit),
            "currency_margin": str(i.currency_margin),
        })

    def do_symbol_select(self, req):
        s = self.field(req, "symbol", str)
        enable = req.get("enable", True) is not False and req.get("enable") != "false"
        if not self.mt5.symbol_select(s, enable):
            code, text = self.last_error()
            raise Reply(code, "SymbolSelect failed: %s" % text)
        return ok(True)

    def do_symbols(self, req):
        syms = self.mt5.symbols_get()
        if syms is None:
            code, text = self.last_error()
            raise Reply(code, "symbols_get failed: %s" % text)
        return ok([{"name": str(s.name), "select": bool(s.select)} for s in syms])

    def do_subscribe(self, req):
        names = req.get("symbols")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Reply(ERR_INVALID_PARAMETER, "field symbols: expected an array of strings")
        for n in names:
            self.ensure_selected(n)
        self.subs = {n: 0 for n in names}
        return ok(len(names))

    def tick_fields(self, s, t):
        return {
            "time": integer(t.time),
            "time_msc": integer(t.time_msc),
            "bid": self.price(s, t.bid),
            "ask": self.price(s, t.ask),
            "last": self.price(s, t.last),
            "volume": integer(t.volume),
            "flags": integer(t.flags),
        }

    def do_tick(self, req):
        s = self.field(req, "symbol", str)
        self.ensure_selected(s)
        t = self.mt5.symbol_info_tick(s)
        if t is None:
            if self.mt5.symbol_info(s) is None:
                raise Reply(ERR_MARKET_UNKNOWN_SYMBOL, "no tick for %s: unknown symbol" % s)
            code, text = self.last_error()
            raise Reply(code, "no tick for %s: %s" % (s, text))
        return ok(self.tick_fields(s, t))

    def do_rates(self, req):
        s = self.field(req, "symbol", str)
        self.ensure_selected(s)
        tf_name = self.field(req, "timeframe", str)
        tf = self.enums.value("timeframe", tf_name)
        if tf is None:
            raise Reply(ERR_INVALID_PARAMETER, "unknown timeframe %s" % tf_name)
        if "count" in req:
            start = self.field(req, "start", int, 0)
            count = self.field(req, "count", int)
            rates = self.mt5.copy_rates_from_pos(s, tf, start, count)
        else:
            rates = self.mt5.copy_rates_range(s, tf, self.field(req, "from", int),
                                              self.field(req, "to", int))
        if rates is None:
            if self.mt5.symbol_info(s) is None:
                raise Reply(ERR_MARKET_UNKNOWN_SYMBOL, "unknown symbol %s" % s, [])
            code, text = self.last_error()
            # As the EA: a failed copy is an empty array with the error (no history there).
            raise Reply(code or ERR_HISTORY_NOT_FOUND, "CopyRates failed: %s" % text, [])
        d = self.digits(s)
        out = []
        for r in rate_rows(rates):
            out.append({
                "time": integer(r["time"]),
                "open": num(r["open"], d),
                "high": num(r["high"], d),
                "low": num(r["low"], d),
                "close": num(r["close"], d),
                "tick_volume": integer(r.get("tick_volume", 0)),
                "spread": integer(r.get("spread", 0)),
                "real_volume": integer(r.get("real_volume", 0)),
            })
        out.sort(key=lambda b: b["time"])
        return ok(out)

    def do_positions(self, req):
        ps = self.mt5.positions_get()
        if ps is None:
            code, text = self.last_error()
            raise Reply(code, "positions_get failed: %s" % text)
        out = []
        for p in ps:
            s = str(p.symbol)
            out.append({
                "ticket": integer(p.ticket),
                "identifier": integer(p.identifier),
                "symbol": s,
                "type": self.enums.name("position_type", p.type),
                "volume": num(p.volume),
                "price_open": self.price(s, p.price_open),
                "price_current": self.price(s, p.price_current),
                "sl": self.price(s, p.sl),
                "tp": self.price(s, p.tp),
                "time": integer(p.time),
                "time_msc": integer(p.time_msc),
                "swap": num(p.swap),
                "profit": num(p.profit),
                "magic": integer(p.magic),
                "comment": str(p.comment),
            })
        return ok(out)

    def do_orders(self, req):
        os_ = self.mt5.orders_get()
        if os_ is None:
            code, text = self.last_error()
            raise Reply(code, "orders_get failed: %s" % text)
        out = []
        for o in os_:
            s = str(o.symbol)
            out.append({
                "ticket": integer(o.ticket),
                "symbol": s,
                "type": self.enums.name("order_type", o.type),
                "volume_initial": num(o.volume_initial),
                "volume_current": num(o.volume_current),
                "price_open": self.price(s, o.price_open),
                "price_stoplimit": self.price(s, o.price_stoplimit),
                "sl": self.price(s, o.sl),
                "tp": self.price(s, o.tp),
                "time_setup": integer(o.time_setup),
                "time_setup_msc": integer(o.time_setup_msc),
                "time_expiration": integer(o.time_expiration),
                "type_time": self.enums.name("order_time", o.type_time),
                "magic": integer(o.magic),
                "comment": str(o.comment),
            })
        return ok(out)

    def do_history_deals(self, req):
        frm, to = self.field(req, "from", int), self.field(req, "to", int)
        ds = self.mt5.history_deals_get(frm, to)
        if ds is None:
            code, text = self.last_error()
            raise Reply(code, "HistorySelect failed: %s" % text)
        out = []
        for d in ds:
            s = str(d.symbol)
            out.append({
                "ticket": integer(d.ticket),
                "order": integer(d.order),
                "position_id": integer(d.position_id),
                "symbol": s,
                "type": self.enums.name("deal_type", d.type),
                "entry": self.enums.name("deal_entry", d.entry),
                "reason": self.enums.name("deal_reason", d.reason),
                "volume": num(d.volume),
                "price": self.price(s, d.price) if s else 0,
                "commission": num(d.commission),
                "fee": num(getattr(d, "fee", 0.0)),
                "swap": num(d.swap),
                "profit": num(d.profit),
                "time": integer(d.time),
                "time_msc": integer(d.time_msc),
                "magic": integer(d.magic),
                "comment": str(d.comment),
            })
        return ok(out)

    # ----- trade requests

    def ensure_selected(self, s):
        """As the EA: a symbol outside Market Watch (4302) is put there before use."""
        i = self.mt5.symbol_info(s) if isinstance(s, str) and s else None
        if i is not None and not i.select and not self.mt5.symbol_select(s, True):
            log.warning("cannot add %s to Market Watch: %s", s, self.last_error())

    def build_request(self, req):
        """MTQ's fields copied into the package's request dict (as the EA's BuildRequest)."""
        e = self.enums
        kind = req.get("type")
        if req.get("action") not in ACTION_OF.get(kind, ()):
            raise Reply(ERR_INVALID_PARAMETER,
                        "action %r does not fit %s" % (req.get("action"), kind))
        self.ensure_selected(req.get("symbol"))
        r = {
            "symbol": self.field(req, "symbol", str),
            "magic": self.field(req, "magic", int, 0),
        }
        comment = req.get("comment", "")
        if isinstance(comment, str) and comment:
            r["comment"] = comment
        if kind == "position_modify":
            r["action"] = e.value("action", "TRADE_ACTION_SLTP")
            r["position"] = self.field(req, "position", int)
            r["sl"] = self.field(req, "sl", float, 0)
            r["tp"] = self.field(req, "tp", float, 0)
            return r
        if kind == "order_cancel":
            r["action"] = e.value("action", "TRADE_ACTION_REMOVE")
            r["order"] = self.field(req, "order", int)
            return r
        action = "TRADE_ACTION_PENDING" if req.get("action") == "TRADE_ACTION_PENDING" \
            else "TRADE_ACTION_DEAL"
        r["action"] = e.value("action", action)
        position = self.field(req, "position", int, 0)
        if position:
            r["position"] = position
        r["volume"] = self.field(req, "volume", float)
        r["type"] = e.value("order_type", req.get("order_type"), e.value("order_type",
                                                                          "ORDER_TYPE_BUY"))
        r["price"] = self.field(req, "price", float, 0)
        for f in ("stoplimit", "sl", "tp"):
            r[f] = self.field(req, f, float, 0)
        r["deviation"] = self.field(req, "deviation", int, 0)
        r["type_filling"] = e.value("filling", req.get("type_filling"),
                                    e.value("filling", "ORDER_FILLING_FOK"))
        specified = req.get("type_time") == "ORDER_TIME_SPECIFIED"
        r["type_time"] = e.value("order_time",
                                 "ORDER_TIME_SPECIFIED" if specified else "ORDER_TIME_GTC")
        expiration = self.field(req, "expiration", int, 0)
        if expiration:
            r["expiration"] = expiration
        return r

    def position_of_deal(self, deal):
        if not deal:
            return 0
        try:
            ds = self.mt5.history_deals_get(ticket=deal)
        except Exception:  # noqa: BLE001
            return 0
        return integer(ds[0].position_id) if ds else 0

    def do_trade(self, req):
        r = self.build_request(req)  # a bad field is refused before anything is sent
        res = self.mt5.order_send(r)
        if res is None:
            code, text = self.last_error()
            if code in IPC_UNCERTAIN:
                log.warning("order_send: %s %s; outcome unknown, MTQ will reconcile", code, text)
                raise NoReply()
            raise Reply(code, "order_send failed in the terminal: %s" % text)
        try:
            s = r["symbol"]
            position = r.get("position") or self.position_of_deal(integer(res.deal))
            return {
                "retcode": integer(res.retcode),
                "retcode_external": integer(getattr(res, "retcode_external", 0)),
                "comment": str(res.comment),
                "error": 0,
                "data": {
                    "deal": integer(res.deal),
                    "order": integer(res.order),
                    "position": integer(position),
                    "volume": num(res.volume),
                    "price": self.price(s, res.price),
                    "bid": self.price(s, res.bid),
                    "ask": self.price(s, res.ask),
                    "request_id": integer(res.request_id),
                    "time": self.times()[0],
                },
            }
        except Exception as exc:  # noqa: BLE001
            # Sent and maybe executed: a refusal would be a lie. Let MTQ reconcile.
            log.error("order_send result unreadable (%s); outcome left to MTQ's reconciliation",
                      exc)
            raise NoReply() from exc

    def do_order_check(self, req):
        r = self.build_request(dict(req, type="order_send"))
        c = self.mt5.order_check(r)
        if c is None:
            code, text = self.last_error()
            raise Reply(code, "order_check failed: %s" % text)
        return {
            "retcode": integer(c.retcode),
            "retcode_external": 0,
            "comment": str(c.comment),
            "error": 0,
            "data": {
                "balance": num(c.balance),
                "equity": num(c.equity),
                "profit": num(c.profit),
                "margin": num(c.margin),
                "margin_free": num(c.margin_free),
                "margin_level": num(c.margin_level),
            },
        }

    # ----- pushes

    def new_ticks(self):
        """Tick push fields for subscribed symbols whose time_msc changed."""
        out = []
        for s, last in list(self.subs.items()):
            try:
                t = self.mt5.symbol_info_tick(s)
            except Exception:  # noqa: BLE001
                t = None
            if t is None or integer(t.time_msc) == last:
                continue
            self.subs[s] = integer(t.time_msc)
            f = {"symbol": s}
            f.update(self.tick_fields(s, t))
            out.append(f)
        return out


def ok(data):
    return {"retcode": 0, "retcode_external": 0, "comment": "", "error": 0, "data": data}


def fail(error, comment):
    return {"retcode": 0, "retcode_external": 0, "comment": comment, "error": error or 1,
            "data": None}


HANDLERS = {
    "account": Bridge.do_account,
    "symbol_info": Bridge.do_symbol_info,
    "symbol_select": Bridge.do_symbol_select,
    "symbols": Bridge.do_symbols,
    "subscribe": Bridge.do_subscribe,
    "tick": Bridge.do_tick,
    "rates": Bridge.do_rates,
    "positions": Bridge.do_positions,
    "orders": Bridge.do_orders,
    "history_deals": Bridge.do_history_deals,
    "order_check": Bridge.do_order_check,
    "order_send": Bridge.do_trade,
    "position_modify": Bridge.do_trade,
    "position_close": Bridge.do_trade,
    "order_cancel": Bridge.do_trade,
}


# ----- connection --------------------------------------------------------------------------------


class Disconnect(Exception):
    pass


class Connection:
    """One TCP session with MTQ: hello, then requests, heartbeats and tick pushes."""

    def __init__(self, bridge, opts):
        self.bridge = bridge
        self.opts = opts
        self.sock = None
        self.reader = LineReader(opts.max_line)
        self.welcomed = False
        self.last_rx = 0.0
        self.last_tx = 0.0

    def send(self, msg_id, msg_type, fields=None):
        data = encode(msg_id, msg_type, fields)
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Disconnect("send failed: %s" % e) from e
        self.last_tx = time.monotonic()

    def run(self, hello):
        o = self.opts
        self.sock = socket.create_connection(("127.0.0.1", o.port), timeout=5)
        try:
            self.sock.settimeout(max(5.0, o.dead_after))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.last_rx = time.monotonic()
            self.send(1, "hello", hello)
            self.loop()
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def loop(self):
        o = self.opts
        b = self.bridge
        while True:
            readable, _, _ = select.select([self.sock], [], [], o.poll_ms / 1000.0)
            now = time.monotonic()
            if readable:
                try:
                    data = self.sock.recv(65536)
                except OSError as e:
                    raise Disconnect("read failed: %s" % e) from e
                if not data:
                    raise Disconnect("closed by MTQ")
                self.last_rx = now
                dropped = self.reader.dropped
                for line in self.reader.push(data):
                    self.on_line(line)
                if self.reader.dropped != dropped:
                    log.warning("overlong line from MTQ skipped")
            if now - self.last_rx > o.dead_after:
                raise Disconnect("MTQ silent: heartbeat timeout")
            if self.welcomed:
                for t in b.new_ticks():
                    self.send(0, "tick", t)
            if time.monotonic() - self.last_tx >= o.heartbeat:
                self.send(0, "heartbeat", b.heartbeat())

    def on_line(self, line):
        msg = parse_line(line)
        if msg is None:
            log.warning("unreadable line from MTQ skipped (%d bytes)", len(line))
            return
        t = msg["type"]
        if t == "welcome":
            self.welcomed = True
            log.info("connected to MTQ on port %d (session %s)", self.opts.port,
                     msg.get("session"))
            return
        if t == "error":
            raise Disconnect("refused by MTQ: %s" % msg.get("comment"))
        if t == "heartbeat" or not self.welcomed:
            return
        try:
            reply = self.bridge.handle(msg)
        except Exception as exc:  # noqa: BLE001 - a bug here must not take the relay down
            log.exception("request %s failed", t)
            if t in ("order_send", "position_modify", "position_close", "order_cancel"):
                return  # outcome unknown: MTQ times out and reconciles
            reply = fail(1, "sidecar error: %s" % exc)
        if reply is not None:
            self.send(msg["id"], "reply", reply)


def initialize(mt5, opts):
    kwargs = {}
    if opts.login:
        kwargs["login"] = int(opts.login)
    if opts.password:
        kwargs["password"] = opts.password
    if opts.server:
        kwargs["server"] = opts.server
    ok_ = mt5.initialize(opts.path, **kwargs) if opts.path else mt5.initialize(**kwargs)
    if not ok_:
        code, text = mt5.last_error() if hasattr(mt5, "last_error") else (-1, "")
        log.error("MetaTrader5.initialize failed: %s %s", code, text)
    return bool(ok_)


def serve(mt5, opts, stop=lambda: False):
    bridge = Bridge(mt5, offset_override=opts.offset)
    backoff = BACKOFF_MIN
    initialized = False
    while not stop():
        if not initialized:
            initialized = initialize(mt5, opts)
        hello = bridge.hello(opts.token) if initialized else None
        if hello is None:
            if initialized:
                log.warning("the terminal is not connected to an account yet")
                initialized = bool(mt5.terminal_info())
        else:
            conn = Connection(bridge, opts)
            try:
                conn.run(hello)
            except Disconnect as e:
                log.warning("disconnected: %s", e)
            except OSError as e:
                log.warning("cannot reach MTQ on 127.0.0.1:%d: %s", opts.port, e)
            if conn.welcomed:
                backoff = BACKOFF_MIN
            bridge.subs = {}
        time.sleep(backoff)
        backoff = min(BACKOFF_MAX, backoff * 2)


def parse_args(argv):
    env = os.environ.get
    p = argparse.ArgumentParser(description="MTQ bridge over the MetaTrader5 Python package")
    p.add_argument("--port", type=int, default=int(env("MTQ_MT5_PORT", "5555")))
    p.add_argument("--token", default=env("MTQ_MT5_TOKEN", ""),
                   help="MTQ's --mt5-token (better: the MTQ_MT5_TOKEN environment variable)")
    p.add_argument("--path", default=env("MT5_PATH"), help="terminal64.exe to start or attach to")
    p.add_argument("--login", default=env("MT5_LOGIN"))
    p.add_argument("--password", default=env("MT5_PASSWORD"),
                   help="better: the MT5_PASSWORD environment variable")
    p.add_argument("--server", default=env("MT5_SERVER"))
    p.add_argument("--server-offset-minutes", type=int, default=None, dest="offset_minutes",
                   help="trade server's UTC offset; default: estimated from quote times")
    p.add_argument("--heartbeat", type=float, default=2.0, help="seconds")
    p.add_argument("--dead-after", type=float, default=15.0, help="seconds")
    p.add_argument("--poll-ms", type=int, default=50)
    p.add_argument("--max-line", type=int, default=MAX_LINE)
    p.add_argument("-v", "--verbose", action="store_true")
    opts = p.parse_args(argv)
    if not 8 <= len(opts.token) <= 128:
        p.error("set --token or MTQ_MT5_TOKEN to MTQ's --mt5-token (8 to 128 characters)")
    if opts.login is not None and not str(opts.login).isdigit():
        p.error("--login must be a number")
    opts.offset = None if opts.offset_minutes is None else opts.offset_minutes * 60
    return opts


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if opts.verbose else logging.INFO,
                        format="%(asctime)s mtq_sidecar %(levelname)s %(message)s")
    try:
        import MetaTrader5 as mt5  # noqa: N813 - the package's name
    except ImportError:
        log.error("the MetaTrader5 package is missing: pip install MetaTrader5 (Windows)")
        return 2
    try:
        serve(mt5, opts)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            mt5.shutdown()
        except Exception:  # noqa: BLE001
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
