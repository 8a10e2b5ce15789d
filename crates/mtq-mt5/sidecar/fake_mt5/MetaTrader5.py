"""A fake ``MetaTrader5`` package for tests: the real package's function names, constants and
namedtuple results, over an in-memory hedging account.

Server time is UTC plus ``FAKE_MT5_OFFSET`` seconds (default 7200). Symbols are EURUSD and
USDJPY with the suffix ``FAKE_MT5_SUFFIX`` (default none). Market orders fill at the current
quote; positions take the opening order's ticket; every fill is recorded as a deal. Unlike the
real package, ``copy_rates_*`` return a list of namedtuples instead of a numpy array.

Test helpers start with an underscore: ``_reset()``, ``_set_quote()``, ``_state``.
"""

import os
import time as _time
from collections import namedtuple

__version__ = "5.0.0-fake"
__author__ = "MTQ tests"

# ----- constants (values of the real package) ----------------------------------------------------

TIMEFRAME_M1, TIMEFRAME_M5, TIMEFRAME_M15, TIMEFRAME_M30 = 1, 5, 15, 30
TIMEFRAME_H1, TIMEFRAME_H4, TIMEFRAME_D1 = 16385, 16388, 16408
TIMEFRAME_W1, TIMEFRAME_MN1 = 32769, 49153
_TF_SECS = {1: 60, 5: 300, 15: 900, 30: 1800, 16385: 3600, 16388: 14400, 16408: 86400,
            32769: 604800, 49153: 2592000}

ACCOUNT_MARGIN_MODE_RETAIL_NETTING = 0
ACCOUNT_MARGIN_MODE_EXCHANGE = 1
ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 2

SYMBOL_TRADE_EXECUTION_REQUEST, SYMBOL_TRADE_EXECUTION_INSTANT = 0, 1
SYMBOL_TRADE_EXECUTION_MARKET, SYMBOL_TRADE_EXECUTION_EXCHANGE = 2, 3
SYMBOL_TRADE_MODE_DISABLED, SYMBOL_TRADE_MODE_LONGONLY, SYMBOL_TRADE_MODE_SHORTONLY = 0, 1, 2
SYMBOL_TRADE_MODE_CLOSEONLY, SYMBOL_TRADE_MODE_FULL = 3, 4
SYMBOL_SWAP_MODE_DISABLED, SYMBOL_SWAP_MODE_POINTS = 0, 1
SYMBOL_FILLING_FOK, SYMBOL_FILLING_IOC = 1, 2

POSITION_TYPE_BUY, POSITION_TYPE_SELL = 0, 1
ORDER_TYPE_BUY, ORDER_TYPE_SELL, ORDER_TYPE_BUY_LIMIT, ORDER_TYPE_SELL_LIMIT = 0, 1, 2, 3
ORDER_TYPE_BUY_STOP, ORDER_TYPE_SELL_STOP = 4, 5
ORDER_TYPE_BUY_STOP_LIMIT, ORDER_TYPE_SELL_STOP_LIMIT, ORDER_TYPE_CLOSE_BY = 6, 7, 8
ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN, ORDER_FILLING_BOC = 0, 1, 2, 3
ORDER_TIME_GTC, ORDER_TIME_DAY, ORDER_TIME_SPECIFIED, ORDER_TIME_SPECIFIED_DAY = 0, 1, 2, 3
ORDER_STATE_PLACED = 1

TRADE_ACTION_DEAL, TRADE_ACTION_PENDING, TRADE_ACTION_SLTP = 1, 5, 6
TRADE_ACTION_MODIFY, TRADE_ACTION_REMOVE, TRADE_ACTION_CLOSE_BY = 7, 8, 10

DEAL_TYPE_BUY, DEAL_TYPE_SELL, DEAL_TYPE_BALANCE = 0, 1, 2
DEAL_ENTRY_IN, DEAL_ENTRY_OUT, DEAL_ENTRY_INOUT, DEAL_ENTRY_OUT_BY = 0, 1, 2, 3
DEAL_REASON_CLIENT, DEAL_REASON_EXPERT, DEAL_REASON_SL, DEAL_REASON_TP = 0, 3, 4, 5

TRADE_RETCODE_PLACED = 10008
TRADE_RETCODE_DONE = 10009
TRADE_RETCODE_INVALID = 10013
TRADE_RETCODE_INVALID_VOLUME = 10014
TRADE_RETCODE_INVALID_STOPS = 10016
TRADE_RETCODE_MARKET_CLOSED = 10018
TRADE_RETCODE_NO_MONEY = 10019
TRADE_RETCODE_CLIENT_DISABLES_AT = 10027
TRADE_RETCODE_INVALID_FILL = 10030
TRADE_RETCODE_POSITION_CLOSED = 10036

RES_S_OK, RES_E_FAIL, RES_E_INVALID_PARAMS, RES_E_NOT_FOUND = 1, -1, -2, -4
RES_E_INTERNAL_FAIL_TIMEOUT = -10005

# ----- result types (field order of the real package) --------------------------------------------

TerminalInfo = namedtuple("TerminalInfo", "community_account community_connection connected "
                          "dlls_allowed trade_allowed tradeapi_disabled email_enabled "
                          "ftp_enabled notifications_enabled mqid build maxbars codepage "
                          "ping_last community_balance retransmission company name language "
                          "path data_path commondata_path")
AccountInfo = namedtuple("AccountInfo", "login trade_mode leverage limit_orders margin_so_mode "
                         "trade_allowed trade_expert margin_mode currency_digits fifo_close "
                         "balance credit profit equity margin margin_free margin_level "
                         "margin_so_call margin_so_so margin_initial margin_maintenance assets "
                         "liabilities commission_blocked name server currency company")
SymbolInfo = namedtuple("SymbolInfo", "custom select visible time digits spread "
                        "trade_stops_level trade_freeze_level trade_exemode trade_mode "
                        "swap_mode swap_rollover3days filling_mode bid ask point "
                        "trade_tick_value trade_tick_size trade_contract_size volume_min "
                        "volume_max volume_step swap_long swap_short currency_base "
                        "currency_profit currency_margin description name path")
Tick = namedtuple("Tick", "time bid ask last volume time_msc flags volume_real")
Rate = namedtuple("Rate", "time open high low close tick_volume spread real_volume")
TradePosition = namedtuple("TradePosition", "ticket time time_msc time_update time_update_msc "
                           "type magic identifier reason volume price_open sl tp "
                           "price_current swap profit symbol comment external_id")
TradeOrder = namedtuple("TradeOrder", "ticket time_setup time_setup_msc time_done "
                        "time_done_msc time_expiration type type_time type_filling state magic "
                        "position_id position_by_id reason volume_initial volume_current "
                        "price_open sl tp price_current price_stoplimit symbol comment "
                        "external_id")
TradeDeal = namedtuple("TradeDeal", "ticket order time time_msc type entry magic position_id "
                       "reason volume price commission swap profit fee symbol comment "
                       "external_id")
OrderSendResult = namedtuple("OrderSendResult", "retcode deal order volume price bid ask comment "
                             "request_id retcode_external request")
OrderCheckResult = namedtuple("OrderCheckResult", "retcode balance equity profit margin "
                              "margin_free margin_level comment request")


class _State:
    def __init__(self):
        self.offset = int(os.environ.get("FAKE_MT5_OFFSET", "7200"))
        suffix = os.environ.get("FAKE_MT5_SUFFIX", "")
        self.initialized = False
        self.error = (RES_S_OK, "Success")
        self.login = 5001234
        self.balance = 10000.0
        self.trade_allowed = True
        self.next_ticket = 1001
        self.request_id = 0
        self.positions = {}
        self.orders = {}
        self.deals = []
        self.init_args = None
        self.calls = []
        # name -> dict of spec fields; quotes: name -> (bid, ask, time_msc)
        self.symbols = {}
        self.quotes = {}
        for base, digits, bid, ask, profit in (("EURUSD", 5, 1.08000, 1.08012, "USD"),
                                               ("USDJPY", 3, 150.100, 150.112, "JPY")):
            name = base + suffix
            self.symbols[name] = {
                "digits": digits, "point": 10.0 ** -digits, "select": base == "EURUSD",
                "base": base[:3], "profit": profit, "contract": 100000.0,
            }
            self.quotes[name] = (bid, ask, None)

    def server_ms(self):
        return int(_time.time() * 1000) + self.offset * 1000

    def ticket(self):
        t = self.next_ticket
        self.next_ticket += 1
        return t


_state = _State()


def _reset():
    global _state
    _state = _State()
    return _state


def _set_quote(symbol, bid, ask):
    _state.quotes[symbol] = (bid, ask, _state.server_ms())


def _fail(code, text):
    _state.error = (code, text)
    return None


def _ok():
    _state.error = (RES_S_OK, "Success")


# ----- connection --------------------------------------------------------------------------------


def initialize(path=None, **kwargs):
    _state.calls.append("initialize")
    _state.init_args = dict(kwargs, path=path)
    if "login" in kwargs and int(kwargs["login"]) != _state.login:
        _fail(-6, "Terminal: Authorization failed")
        return False
    _state.initialized = True
    _ok()
    return True


def login(login, password=None, server=None, timeout=60000):
    return initialize(login=login, password=password, server=server)


def shutdown():
    _state.initialized = False
    return None


def last_error():
    return _state.error


def version():
    return (500, 4755, "20 Mar 2025")


def _ready():
    if not _state.initialized:
        _fail(-10004, "No IPC connection")
        return False
    _ok()
    return True


def terminal_info():
    if not _ready():
        return None
    return TerminalInfo(False, False, True, False, _state.trade_allowed, False, False, False,
                        False, False, 4755, 100000, 1252, 1000, 0.0, 0.0,
                        "MetaQuotes Ltd.", "MetaTrader 5 (fake)", "English", "C:\\MT5",
                        "C:\\MT5\\data", "C:\\MT5\\common")


def account_info():
    if not _ready():
        return None
    profit = sum(_profit(p) for p in _state.positions.values())
    margin = sum(p["volume"] * _state.symbols[p["symbol"]]["contract"] / 100.0
                 for p in _state.positions.values())
    equity = _state.balance + profit
    level = equity / margin * 100.0 if margin else 0.0
    return AccountInfo(_state.login, 0, 100, 200, 0, True, True,
                       ACCOUNT_MARGIN_MODE_RETAIL_HEDGING, 2, False, _state.balance, 0.0,
                       profit, equity, margin, equity - margin, level, 50.0, 30.0, 0.0, 0.0,
                       0.0, 0.0, 0.0, "Test User", "Fake-Demo", "USD",
                       'Fake "Broker" Ltd\\ \u00e9\u20ac\n')


# ----- symbols and quotes ------------------------------------------------------------------------


def _quote(name):
    bid, ask, msc = _state.quotes[name]
    if msc is None:  # quotes keep flowing: the tick time is "now" on the server
        msc = _state.server_ms()
    return bid, ask, msc


def _symbol(name):
    s = _state.symbols[name]
    bid, ask, msc = _quote(name)
    return SymbolInfo(False, s["select"], s["select"], msc // 1000, s["digits"],
                      round((ask - bid) / s["point"]), 10, 5, SYMBOL_TRADE_EXECUTION_MARKET,
                      SYMBOL_TRADE_MODE_FULL, SYMBOL_SWAP_MODE_POINTS, 3,
                      SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC, bid, ask, s["point"], 1.0,
                      s["point"], s["contract"], 0.01, 100.0, 0.01, -6.5, 1.25, s["base"],
                      s["profit"], s["base"], "fake " + name, name, "Forex\\" + name)


def symbols_total():
    return len(_state.symbols) if _ready() else 0


def symbols_get(group=None):
    if not _ready():
        return None
    return tuple(_symbol(n) for n in _state.symbols)


def symbol_info(symbol):
    if not _ready():
        return None
    if symbol not in _state.symbols:
        return _fail(RES_E_NOT_FOUND, "Terminal: Not found")
    return _symbol(symbol)


def symbol_select(symbol, enable=True):
    if not _ready():
        return False
    if symbol not in _state.symbols:
        _fail(RES_E_NOT_FOUND, "Terminal: Not found")
        return False
    _state.symbols[symbol]["select"] = bool(enable)
    return True


def symbol_info_tick(symbol):
    if not _ready():
        return None
    if symbol not in _state.symbols:
        return _fail(RES_E_NOT_FOUND, "Terminal: Not found")
    bid, ask, msc = _quote(symbol)
    return Tick(msc // 1000, bid, ask, 0.0, 0, msc, 6, 0.0)


def _bars(symbol, timeframe):
    """Deterministic history: 500 bars up to the current one, bar i (oldest first) opening at
    1.07 + i * 10 points."""
    step = _TF_SECS[timeframe]
    now = _state.server_ms() // 1000
    last_open = now - now % step
    s = _state.symbols[symbol]
    pt = s["point"]
    base = 1.07 if s["digits"] == 5 else 149.0
    out = []
    for i in range(500):
        o = round(base + i * 10 * pt, s["digits"])
        c = round(o + 5 * pt, s["digits"])
        out.append(Rate(last_open - (499 - i) * step, o, round(c + 3 * pt, s["digits"]),
                        round(o - 2 * pt, s["digits"]), c, 100 + i, 12, 0))
    return out


def copy_rates_from_pos(symbol, timeframe, start_pos, count):
    if not _ready():
        return None
    if symbol not in _state.symbols or timeframe not in _TF_SECS:
        return _fail(RES_E_INVALID_PARAMS, "Terminal: Invalid params")
    bars = _bars(symbol, timeframe)
    end = len(bars) - int(start_pos)
    return bars[max(0, end - int(count)):max(0, end)]


def _secs(t):
    return int(t.timestamp()) if hasattr(t, "timestamp") else int(t)


def copy_rates_range(symbol, timeframe, date_from, date_to):
    if not _ready():
        return None
    if symbol not in _state.symbols or timeframe not in _TF_SECS:
        return _fail(RES_E_INVALID_PARAMS, "Terminal: Invalid params")
    lo, hi = _secs(date_from), _secs(date_to)
    return [b for b in _bars(symbol, timeframe) if lo <= b.time <= hi]


def copy_rates_from(symbol, timeframe, date_from, count):
    if not _ready():
        return None
    bars = [b for b in _bars(symbol, timeframe) if b.time <= _secs(date_from)]
    return bars[-int(count):]


# ----- account state -----------------------------------------------------------------------------


def _profit(p):
    bid, ask, _ = _quote(p["symbol"])
    close = bid if p["type"] == POSITION_TYPE_BUY else ask
    sign = 1 if p["type"] == POSITION_TYPE_BUY else -1
    return round((close - p["price_open"]) * sign * p["volume"]
                 * _state.symbols[p["symbol"]]["contract"], 2)


def positions_total():
    return len(_state.positions)


def positions_get(symbol=None, group=None, ticket=None):
    if not _ready():
        return None
    out = []
    for p in _state.positions.values():
        if (symbol and p["symbol"] != symbol) or (ticket and p["ticket"] != ticket):
            continue
        bid, ask, _ = _quote(p["symbol"])
        current = bid if p["type"] == POSITION_TYPE_BUY else ask
        out.append(TradePosition(p["ticket"], p["time_msc"] // 1000, p["time_msc"],
                                 p["time_msc"] // 1000, p["time_msc"], p["type"], p["magic"],
                                 p["ticket"], DEAL_REASON_EXPERT, p["volume"], p["price_open"],
                                 p["sl"], p["tp"], current, 0.0, _profit(p), p["symbol"],
                                 p["comment"], ""))
    return tuple(out)


def orders_total():
    return len(_state.orders)


def orders_get(symbol=None, group=None, ticket=None):
    if not _ready():
        return None
    out = []
    for o in _state.orders.values():
        if (symbol and o["symbol"] != symbol) or (ticket and o["ticket"] != ticket):
            continue
        out.append(TradeOrder(o["ticket"], o["time_msc"] // 1000, o["time_msc"], 0, 0,
                              o["expiration"], o["type"], o["type_time"], o["type_filling"],
                              ORDER_STATE_PLACED, o["magic"], 0, 0, DEAL_REASON_EXPERT,
                              o["volume"], o["volume"], o["price"], o["sl"], o["tp"],
                              o["price"], o["stoplimit"], o["symbol"], o["comment"], ""))
    return tuple(out)


def history_deals_total(date_from, date_to):
    d = history_deals_get(date_from, date_to)
    return len(d) if d is not None else 0


def history_deals_get(date_from=None, date_to=None, group=None, ticket=None, position=None):
    if not _ready():
        return None
    if ticket is not None:
        return tuple(d for d in _state.deals if d.ticket == ticket)
    if position is not None:
        return tuple(d for d in _state.deals if d.position_id == position)
    if date_from is None or date_to is None:
        return _fail(RES_E_INVALID_PARAMS, "Terminal: Invalid params")
    lo, hi = _secs(date_from), _secs(date_to)
    return tuple(d for d in _state.deals if lo <= d.time <= hi)


def history_orders_get(date_from=None, date_to=None, group=None, ticket=None, position=None):
    return () if _ready() else None


# ----- trading -----------------------------------------------------------------------------------


def _result(retcode, comment, request, deal=0, order=0, volume=0.0, price=0.0, symbol=None):
    _state.request_id += 1
    bid, ask = 0.0, 0.0
    if symbol in _state.symbols:
        bid, ask, _ = _quote(symbol)
    return OrderSendResult(retcode, deal, order, volume, price, bid, ask, comment,
                           _state.request_id, 0, request)


def _deal(order, position, symbol, dtype, entry, volume, price, profit, magic, comment):
    msc = _state.server_ms()
    d = TradeDeal(_state.ticket(), order, msc // 1000, msc, dtype, entry, magic, position,
                  DEAL_REASON_EXPERT, volume, price, -0.35 * volume * 10, 0.0, profit, 0.0,
                  symbol, comment, "")
    _state.deals.append(d)
    _state.balance += profit + d.commission
    return d


def _check_volume(sym, volume):
    return 0.01 - 1e-9 <= volume <= 100.0 + 1e-9 and abs(volume * 100 - round(volume * 100)) < 1e-6


def order_send(request):
    if not _ready():
        return None
    if not isinstance(request, dict) or "action" not in request:
        return _fail(RES_E_INVALID_PARAMS, "Invalid \"request\" argument")
    r = request
    action = r["action"]
    symbol = r.get("symbol", "")
    if symbol not in _state.symbols:
        return _result(TRADE_RETCODE_INVALID, "Invalid request", r)
    if not _state.trade_allowed:
        return _result(TRADE_RETCODE_CLIENT_DISABLES_AT, "AutoTrading disabled by client", r,
                       symbol=symbol)
    bid, ask, _ = _quote(symbol)
    if action == TRADE_ACTION_SLTP:
        p = _state.positions.get(r.get("position"))
        if p is None:
            return _result(TRADE_RETCODE_POSITION_CLOSED, "Position doesn't exist", r,
                           symbol=symbol)
        p["sl"], p["tp"] = float(r.get("sl", 0.0)), float(r.get("tp", 0.0))
        return _result(TRADE_RETCODE_DONE, "Request executed", r, symbol=symbol)
    if action == TRADE_ACTION_REMOVE:
        if _state.orders.pop(r.get("order"), None) is None:
            return _result(TRADE_RETCODE_INVALID, "Invalid request", r, symbol=symbol)
        return _result(TRADE_RETCODE_DONE, "Request executed", r, order=r["order"],
                       symbol=symbol)
    volume = float(r.get("volume", 0.0))
    if not _check_volume(symbol, volume):
        return _result(TRADE_RETCODE_INVALID_VOLUME, "Invalid volume", r, symbol=symbol)
    if r.get("type_filling", ORDER_FILLING_FOK) not in (ORDER_FILLING_FOK, ORDER_FILLING_IOC) \
            and action == TRADE_ACTION_DEAL:
        return _result(TRADE_RETCODE_INVALID_FILL, "Unsupported filling mode", r, symbol=symbol)
    otype = r.get("type", ORDER_TYPE_BUY)
    comment = r.get("comment", "")
    magic = int(r.get("magic", 0))
    if action == TRADE_ACTION_PENDING:
        t = _state.ticket()
        _state.orders[t] = {"ticket": t, "symbol": symbol, "type": otype, "volume": volume,
                            "price": float(r.get("price", 0.0)),
                            "stoplimit": float(r.get("stoplimit", 0.0)),
                            "sl": float(r.get("sl", 0.0)), "tp": float(r.get("tp", 0.0)),
                            "expiration": int(r.get("expiration", 0)),
                            "type_time": r.get("type_time", ORDER_TIME_GTC),
                            "type_filling": r.get("type_filling", ORDER_FILLING_RETURN),
                            "magic": magic, "comment": comment,
                            "time_msc": _state.server_ms()}
        return _result(TRADE_RETCODE_PLACED, "Request executed", r, order=t, volume=volume,
                       price=r.get("price", 0.0), symbol=symbol)
    if action != TRADE_ACTION_DEAL or otype not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL):
        return _result(TRADE_RETCODE_INVALID, "Invalid request", r, symbol=symbol)
    price = ask if otype == ORDER_TYPE_BUY else bid
    dtype = DEAL_TYPE_BUY if otype == ORDER_TYPE_BUY else DEAL_TYPE_SELL
    order = _state.ticket()
    pos_ticket = r.get("position")
    if pos_ticket:
        p = _state.positions.get(pos_ticket)
        if p is None:
            return _result(TRADE_RETCODE_POSITION_CLOSED, "Position doesn't exist", r,
                           symbol=symbol)
        if volume > p["volume"] + 1e-9 or (otype == ORDER_TYPE_BUY) == (p["type"] == POSITION_TYPE_BUY):
            return _result(TRADE_RETCODE_INVALID, "Invalid request", r, symbol=symbol)
        share = dict(p, volume=volume)
        profit = _profit(share)
        d = _deal(order, pos_ticket, symbol, dtype, DEAL_ENTRY_OUT, volume, price, profit, magic,
                  comment)
        p["volume"] = round(p["volume"] - volume, 8)
        if p["volume"] <= 1e-9:
            del _state.positions[pos_ticket]
        return _result(TRADE_RETCODE_DONE, "Request executed", r, deal=d.ticket, order=order,
                       volume=volume, price=price, symbol=symbol)
    d = _deal(order, order, symbol, dtype, DEAL_ENTRY_IN, volume, price, 0.0, magic, comment)
    _state.positions[order] = {"ticket": order, "symbol": symbol,
                               "type": POSITION_TYPE_BUY if otype == ORDER_TYPE_BUY
                               else POSITION_TYPE_SELL,
                               "volume": volume, "price_open": price,
                               "sl": float(r.get("sl", 0.0)), "tp": float(r.get("tp", 0.0)),
                               "magic": magic, "comment": comment, "time_msc": d.time_msc}
    return _result(TRADE_RETCODE_DONE, "Request executed", r, deal=d.ticket, order=order,
                   volume=volume, price=price, symbol=symbol)


def order_check(request):
    if not _ready():
        return None
    a = account_info()
    symbol = request.get("symbol", "")
    if symbol not in _state.symbols:
        return OrderCheckResult(TRADE_RETCODE_INVALID, a.balance, a.equity, a.profit, a.margin,
                                a.margin_free, a.margin_level, "Invalid request", request)
    volume = float(request.get("volume", 0.0))
    if not _check_volume(symbol, volume):
        return OrderCheckResult(TRADE_RETCODE_INVALID_VOLUME, a.balance, a.equity, a.profit,
                                a.margin, a.margin_free, a.margin_level, "Invalid volume",
                                request)
    margin = a.margin + volume * _state.symbols[symbol]["contract"] / 100.0
    level = a.equity / margin * 100.0 if margin else 0.0
    return OrderCheckResult(0, a.balance, a.equity, a.profit, margin, a.equity - margin, level,
                            "Done", request)
