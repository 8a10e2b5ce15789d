"""Unit tests of the sidecar's pure parts against the fake MetaTrader5 module (stdlib only).

Run: python3 -m unittest discover -s crates/mtq-mt5/sidecar
"""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "fake_mt5"))

import MetaTrader5 as fake  # noqa: E402  (the fake module)
import mtq_sidecar as sc  # noqa: E402

NOW = 1_700_000_000  # UTC seconds the bridge's clock reports


def market(order_type="ORDER_TYPE_BUY", volume=0.1, **kw):
    req = {"v": 1, "id": 7, "type": "order_send", "action": "TRADE_ACTION_DEAL",
           "symbol": "EURUSD", "volume": volume, "order_type": order_type, "price": 1.08012,
           "stoplimit": 0, "sl": 1.075, "tp": 1.09, "deviation": 10, "magic": 4242,
           "comment": "mtq-1", "type_filling": "ORDER_FILLING_FOK", "type_time": "ORDER_TIME_GTC",
           "expiration": 0}
    req.update(kw)
    return req


class FakeStructuredArray:
    """What numpy's structured array looks like to the sidecar: ``dtype.names`` and rows
    indexed by field name (numpy itself is not a dependency of these tests)."""

    class _Dtype:
        names = sc.RATE_FIELDS

    dtype = _Dtype()

    def __init__(self, rows):
        self.rows = [dict(zip(sc.RATE_FIELDS, r)) for r in rows]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)


class JsonTest(unittest.TestCase):
    def test_any_text_is_escaped_and_round_trips(self):
        nasty = 'a"b\\c\nd\re\tf\x00g\x1f\u00e9\u20ac\U0001F600'
        line = sc.encode(3, "reply", {"comment": nasty, "data": None})
        self.assertTrue(line.endswith(b"\n"))
        self.assertEqual(line.count(b"\n"), 1)
        back = json.loads(line.decode("utf-8"))
        self.assertEqual(back["comment"], nasty)
        self.assertEqual((back["v"], back["id"], back["type"]), (1, 3, "reply"))

    def test_the_envelope_cannot_be_overridden_and_floats_stay_finite(self):
        line = sc.encode(5, "tick", {"id": 99, "type": "x", "v": 2, "bid": float("nan"),
                                     "ask": float("inf"), "s": "\ud800"})
        back = json.loads(line)
        self.assertEqual((back["v"], back["id"], back["type"]), (1, 5, "tick"))
        self.assertEqual((back["bid"], back["ask"]), (0, 0))
        self.assertEqual(back["s"], "?")

    def test_numbers_are_written_like_the_ea(self):
        self.assertEqual(sc.num(1.080120000001, 5), 1.08012)
        self.assertEqual(sc.num(100000.0), 100000)
        self.assertEqual(sc.num(float("nan")), 0)
        self.assertEqual(json.dumps(sc.num(0.1 + 0.2)), "0.3")

    def test_lines_from_mtq_are_checked(self):
        self.assertIsNone(sc.parse_line(b"not json"))
        self.assertIsNone(sc.parse_line(b"[1,2]"))
        self.assertIsNone(sc.parse_line(b'{"v":2,"id":1,"type":"account"}'))
        self.assertIsNone(sc.parse_line(b'{"v":1,"id":-1,"type":"account"}'))
        self.assertIsNone(sc.parse_line(b'{"v":1,"id":1}'))
        self.assertIsNone(sc.parse_line(b'{"v":true,"id":1,"type":"account"}'))
        self.assertIsNone(sc.parse_line(b"\xff\xfe"))
        self.assertIsNone(sc.parse_line(b"[" * 100000))
        self.assertEqual(sc.parse_line(b'{"v":1,"id":4,"type":"account"}')["id"], 4)


class LineCapTest(unittest.TestCase):
    def test_split_and_coalesced_lines(self):
        r = sc.LineReader(100)
        self.assertEqual(r.push(b'{"a":'), [])
        self.assertEqual(r.push(b'1}\r\n{"b":2}\n\n  \n{"c"'), [b'{"a":1}', b'{"b":2}'])
        self.assertEqual(r.push(b":3}\n"), [b'{"c":3}'])

    def test_an_overlong_line_is_skipped_without_buffering_it(self):
        r = sc.LineReader(16)
        self.assertEqual(r.push(b"x" * 10), [])
        self.assertEqual(r.push(b"y" * 10), [])  # over the cap: dropped
        self.assertEqual(r.dropped, 1)
        self.assertEqual(len(r.buf), 0)
        self.assertEqual(r.push(b"z" * 1000), [])
        self.assertEqual(len(r.buf), 0)
        self.assertEqual(r.push(b"zz\nok\n"), [b"ok"])
        self.assertEqual(r.push(b"a" * 17 + b"\nfine\n"), [b"fine"])
        self.assertEqual(r.dropped, 2)


class RatesTest(unittest.TestCase):
    ROWS = [(60, 1.1, 1.2, 1.0, 1.15, 10, 2, 0), (120, 1.15, 1.3, 1.1, 1.2, 11, 3, 5)]

    def test_structured_arrays_namedtuples_dicts_and_tuples(self):
        want = [dict(zip(sc.RATE_FIELDS, r)) for r in self.ROWS]
        self.assertEqual(list(sc.rate_rows(FakeStructuredArray(self.ROWS))), want)
        self.assertEqual(list(sc.rate_rows([fake.Rate(*r) for r in self.ROWS])), want)
        self.assertEqual(list(sc.rate_rows(want)), want)
        self.assertEqual(list(sc.rate_rows(self.ROWS)), want)
        self.assertEqual(list(sc.rate_rows(None)), [])

    def test_a_numpy_array_reaches_the_wire(self):
        class Mt5(object):
            pass

        b = sc.Bridge(fake)
        fake._reset()
        fake.initialize()
        orig = fake.copy_rates_from_pos
        try:
            fake.copy_rates_from_pos = lambda *a: FakeStructuredArray(self.ROWS)
            r = b.handle({"type": "rates", "symbol": "EURUSD", "timeframe": "PERIOD_H1",
                          "start": 0, "count": 2})
        finally:
            fake.copy_rates_from_pos = orig
        self.assertEqual(r["error"], 0)
        self.assertEqual([x["time"] for x in r["data"]], [60, 120])
        self.assertEqual(r["data"][1]["real_volume"], 5)


class DispatchTest(unittest.TestCase):
    def setUp(self):
        fake._reset()
        self.assertTrue(fake.initialize())
        self.b = sc.Bridge(fake, clock=lambda: NOW)

    def test_hello_has_every_field_and_the_offset(self):
        # Quotes stamped at server time NOW + 2 h (and a few seconds of lag).
        fake._set_quote("EURUSD", 1.08, 1.08012)
        fake._state.quotes["EURUSD"] = (1.08, 1.08012, (NOW + 7200 - 7) * 1000)
        fake._state.quotes["USDJPY"] = (150.1, 150.112, (NOW - 3600) * 1000)
        h = self.b.hello("secret-token")
        for f in ("token", "ea_version", "terminal_build", "terminal_name", "login", "server",
                  "company", "currency", "leverage", "margin_mode", "terminal_trade_allowed",
                  "ea_trade_allowed", "time_trade_server", "time_gmt"):
            self.assertIn(f, h)
        self.assertEqual(h["time_gmt"], NOW)
        self.assertEqual(h["time_trade_server"] - h["time_gmt"], 7200)
        self.assertEqual(h["margin_mode"], "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING")
        self.assertEqual(h["login"], 5001234)
        self.assertNotIn("password", json.dumps(h))

    def test_an_explicit_offset_wins(self):
        b = sc.Bridge(fake, offset_override=-5 * 3600, clock=lambda: NOW)
        hb = b.heartbeat()
        self.assertEqual(hb["time_trade_server"] - hb["time_gmt"], -5 * 3600)

    def test_data_requests(self):
        a = self.b.handle({"type": "account"})
        self.assertEqual((a["error"], a["data"]["balance"], a["data"]["currency"]),
                         (0, 10000, "USD"))
        s = self.b.handle({"type": "symbol_info", "symbol": "EURUSD"})["data"]
        self.assertEqual((s["digits"], s["point"], s["filling_mode"]), (5, 1e-05, 3))
        self.assertEqual(s["trade_exemode"], "SYMBOL_TRADE_EXECUTION_MARKET")
        self.assertEqual(s["swap_rollover3days"], "WEDNESDAY")
        u = self.b.handle({"type": "symbol_info", "symbol": "NOPE"})
        self.assertEqual((u["error"], u["data"]), (4301, None))
        self.assertEqual(self.b.handle({"type": "symbol_select", "symbol": "USDJPY",
                                        "enable": True})["data"], True)
        names = self.b.handle({"type": "symbols"})["data"]
        self.assertIn({"name": "USDJPY", "select": True}, names)
        t = self.b.handle({"type": "tick", "symbol": "EURUSD"})["data"]
        self.assertEqual((t["bid"], t["ask"]), (1.08, 1.08012))
        self.assertEqual(self.b.handle({"type": "tick", "symbol": "NOPE"})["error"], 4301)
        r = self.b.handle({"type": "rates", "symbol": "EURUSD", "timeframe": "PERIOD_M5",
                           "start": 0, "count": 3})["data"]
        self.assertEqual(len(r), 3)
        self.assertTrue(r[0]["time"] < r[1]["time"] < r[2]["time"])
        rng = self.b.handle({"type": "rates", "symbol": "EURUSD", "timeframe": "PERIOD_M5",
                             "from": r[0]["time"], "to": r[1]["time"]})["data"]
        self.assertEqual([x["time"] for x in rng], [r[0]["time"], r[1]["time"]])
        self.assertEqual(self.b.handle({"type": "rates", "symbol": "EURUSD",
                                        "timeframe": "PERIOD_X", "start": 0,
                                        "count": 1})["error"], 4003)
        self.assertEqual(self.b.handle({"type": "orders"})["data"], [])
        self.assertEqual(self.b.handle({"type": "positions"})["data"], [])
        self.assertEqual(self.b.handle({"type": "subscribe", "symbols": ["EURUSD"]})["data"], 1)
        self.assertEqual(self.b.handle({"type": "nonsense"})["error"], 4014)
        self.assertEqual(self.b.handle({"type": "tick"})["error"], 4003)

    def test_trading_round_trip(self):
        r = self.b.handle(market())
        self.assertEqual((r["retcode"], r["error"], r["comment"]),
                         (10009, 0, "Request executed"))
        d = r["data"]
        self.assertEqual((d["price"], d["volume"], d["position"]), (1.08012, 0.1, d["order"]))
        pos = d["position"]
        self.assertEqual(d["time"], NOW)  # offset not estimated yet in this bridge: 0
        p = self.b.handle({"type": "positions"})["data"][0]
        self.assertEqual((p["ticket"], p["type"], p["sl"], p["tp"], p["comment"], p["magic"]),
                         (pos, "POSITION_TYPE_BUY", 1.075, 1.09, "mtq-1", 4242))
        m = self.b.handle({"type": "position_modify", "action": "TRADE_ACTION_SLTP",
                           "position": pos, "symbol": "EURUSD",
                           "sl": 1.076, "tp": 1.095, "magic": 4242})
        self.assertEqual(m["retcode"], 10009)
        p = self.b.handle({"type": "positions"})["data"][0]
        self.assertEqual((p["sl"], p["tp"]), (1.076, 1.095))
        c = self.b.handle(market("ORDER_TYPE_SELL", type="position_close", position=pos,
                                 comment="", price=1.08))
        self.assertEqual((c["retcode"], c["data"]["position"], c["data"]["price"]),
                         (10009, pos, 1.08))
        self.assertEqual(self.b.handle({"type": "positions"})["data"], [])
        deals = self.b.handle({"type": "history_deals", "from": 0, "to": 2**40})["data"]
        self.assertEqual([x["entry"] for x in deals], ["DEAL_ENTRY_IN", "DEAL_ENTRY_OUT"])
        self.assertEqual([x["type"] for x in deals], ["DEAL_TYPE_BUY", "DEAL_TYPE_SELL"])
        self.assertEqual(deals[1]["profit"], -1.2)
        self.assertEqual(deals[1]["position_id"], pos)
        self.assertEqual(deals[0]["comment"], "mtq-1")

    def test_pending_orders_and_cancel(self):
        r = self.b.handle(market("ORDER_TYPE_BUY_LIMIT", action="TRADE_ACTION_PENDING",
                                 price=1.07, type_filling="ORDER_FILLING_RETURN"))
        self.assertEqual(r["retcode"], 10008)
        o = self.b.handle({"type": "orders"})["data"][0]
        self.assertEqual((o["type"], o["price_open"], o["type_time"]),
                         ("ORDER_TYPE_BUY_LIMIT", 1.07, "ORDER_TIME_GTC"))
        x = self.b.handle({"type": "order_cancel", "action": "TRADE_ACTION_REMOVE",
                           "order": o["ticket"], "symbol": "EURUSD"})
        self.assertEqual(x["retcode"], 10009)
        self.assertEqual(self.b.handle({"type": "orders"})["data"], [])

    def test_a_trade_request_whose_action_does_not_fit_is_refused_unsent(self):
        for req in (market(action="TRADE_ACTION_SLTP"),
                    market("ORDER_TYPE_SELL", type="position_close", position=1,
                           action="TRADE_ACTION_PENDING"),
                    {"type": "position_modify", "position": 1, "symbol": "EURUSD"}):
            r = self.b.handle(req)
            self.assertEqual((r["retcode"], r["error"]), (0, 4003), r)
        self.assertEqual(self.b.handle({"type": "positions"})["data"], [])

    def test_refusals_are_relayed_not_decided(self):
        r = self.b.handle(market(volume=0.005))
        self.assertEqual((r["retcode"], r["comment"]), (10014, "Invalid volume"))
        fake._state.trade_allowed = False
        self.assertEqual(self.b.handle(market())["retcode"], 10027)

    def test_order_check(self):
        c = self.b.handle(dict(market(), type="order_check"))
        self.assertEqual((c["retcode"], c["error"]), (0, 0))
        self.assertEqual(c["data"]["margin"], 100)

    def test_a_failed_send_is_retcode_0_but_a_lost_ipc_call_gets_no_answer(self):
        orig = fake.order_send
        try:
            fake.order_send = lambda r: fake._fail(-2, "Invalid params")
            r = self.b.handle(market())
            self.assertEqual((r["retcode"], r["error"]), (0, -2))
            fake.order_send = lambda r: fake._fail(-10005, "IPC timeout")
            self.assertIsNone(self.b.handle(market()))
        finally:
            fake.order_send = orig

    def test_a_bad_field_is_refused_before_sending(self):
        r = self.b.handle(market(volume="lots"))
        self.assertEqual((r["retcode"], r["error"]), (0, 4003))
        self.assertEqual(fake._state.deals, [])

    def test_tick_pushes_only_when_the_tick_changes(self):
        self.b.handle({"type": "subscribe", "symbols": ["EURUSD", "NOPE"]})
        fake._state.quotes["EURUSD"] = (1.1, 1.2, 5_000)
        first = self.b.new_ticks()
        self.assertEqual([(t["symbol"], t["bid"], t["time_msc"]) for t in first],
                         [("EURUSD", 1.1, 5_000)])
        self.assertEqual(self.b.new_ticks(), [])
        fake._state.quotes["EURUSD"] = (1.1, 1.2, 6_000)
        self.assertEqual(len(self.b.new_ticks()), 1)


class ArgsTest(unittest.TestCase):
    def test_token_is_required_and_env_works(self):
        with self.assertRaises(SystemExit):
            sc.parse_args(["--port", "1", "--token", "short"])
        os.environ["MTQ_MT5_TOKEN"] = "from-the-environment"
        try:
            o = sc.parse_args(["--port", "1234", "--server-offset-minutes", "120"])
        finally:
            del os.environ["MTQ_MT5_TOKEN"]
        self.assertEqual((o.port, o.token, o.offset), (1234, "from-the-environment", 7200))


if __name__ == "__main__":
    unittest.main()
