//+------------------------------------------------------------------+
//| MtqBridge.mq5 - the MTQ bridge Expert Advisor, protocol v1        |
//|                                                                  |
//| A thin relay between this terminal and MTQ listening on          |
//| 127.0.0.1. It connects out (MQL5 cannot listen), answers MTQ's   |
//| requests with the terminal's own functions and forwards ticks    |
//| and trade transactions. It makes no trading decision: filling    |
//| mode, volumes, prices, stops checks, retries and reconciliation  |
//| all happen in MTQ. Protocol: docs/mt5-bridge.md.                 |
//|                                                                  |
//| Setup: compile in MetaEditor; Tools > Options > Expert Advisors: |
//| allow 127.0.0.1; attach to ONE chart; set Port and Token as in   |
//| MTQ; tick "Allow Algo Trading"; press Algo Trading.              |
//+------------------------------------------------------------------+
#property copyright "MTQ"
#property version   "1.00"
#property strict

input ushort Port              = 5555;  // MTQ's --mt5-port
input string Token             = "";    // MTQ's --mt5-token (8 to 128 characters)
input int    HeartbeatSeconds  = 2;     // heartbeat period
input int    DeadAfterSeconds  = 15;    // MTQ silent this long: reconnect
input int    TimerMilliseconds = 50;    // polling period; the terminal is never blocked longer

#define EA_VERSION      "1.0.0"
#define PROTOCOL        1
#define MAX_LINE        1048576         // longest request line accepted from MTQ
#define BACKOFF_MIN_MS  1000
#define BACKOFF_MAX_MS  30000

int    g_sock = INVALID_HANDLE;
bool   g_welcomed = false;
uchar  g_rx[];
int    g_rx_len = 0;
bool   g_discarding = false;
ulong  g_last_rx = 0;
ulong  g_last_tx = 0;
ulong  g_next_connect = 0;
int    g_backoff = BACKOFF_MIN_MS;
string g_subs[];
long   g_sub_msc[];

//--- JSON ------------------------------------------------------------------------------------
// Requests from MTQ are flat objects whose values are strings, numbers, booleans, or (for
// "symbols") an array of strings. This parser handles exactly that and rejects anything else.

string g_keys[];
string g_vals[];
string g_arr[];

string JsonEscape(const string s)
  {
   string out = "";
   int n = StringLen(s);
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(s, i);
      if(c == '"')       out += "\\\"";
      else if(c == '\\') out += "\\\\";
      else if(c == '\n') out += "\\n";
      else if(c == '\r') out += "\\r";
      else if(c == '\t') out += "\\t";
      else if(c < 0x20)  out += StringFormat("\\u%04X", c);
      else               out += ShortToString(c);
     }
   return out;
  }

string Q(const string s) { return "\"" + JsonEscape(s) + "\""; }

string Num(const double x, const int digits = 8)
  {
   if(!MathIsValidNumber(x))
      return "0";
   string s = DoubleToString(x, digits);
   if(StringFind(s, ".") >= 0)
     {
      int n = StringLen(s);
      while(n > 0 && StringGetCharacter(s, n - 1) == '0') n--;
      if(n > 0 && StringGetCharacter(s, n - 1) == '.') n--;
      s = StringSubstr(s, 0, n);
     }
   if(s == "" || s == "-0") s = "0";
   return s;
  }

string Price(const string symbol, const double x)
  {
   int d = (int)SymbolInfoInteger(symbol, SYMBOL_DIGITS);
   return Num(x, d > 0 ? d : 8);
  }

string B(const bool b) { return b ? "true" : "false"; }

void SkipWs(const string s, int &i)
  {
   int n = StringLen(s);
   while(i < n)
     {
      ushort c = StringGetCharacter(s, i);
      if(c != ' ' && c != '\t' && c != '\r' && c != '\n') break;
      i++;
     }
  }

int Hex(const ushort c)
  {
   if(c >= '0' && c <= '9') return c - '0';
   if(c >= 'a' && c <= 'f') return c - 'a' + 10;
   if(c >= 'A' && c <= 'F') return c - 'A' + 10;
   return -1;
  }

bool ParseString(const string s, int &i, string &out)
  {
   int n = StringLen(s);
   if(i >= n || StringGetCharacter(s, i) != '"') return false;
   i++;
   out = "";
   while(i < n)
     {
      ushort c = StringGetCharacter(s, i++);
      if(c == '"') return true;
      if(c != '\\') { out += ShortToString(c); continue; }
      if(i >= n) return false;
      ushort e = StringGetCharacter(s, i++);
      if(e == '"' || e == '\\' || e == '/') out += ShortToString(e);
      else if(e == 'n') out += "\n";
      else if(e == 'r') out += "\r";
      else if(e == 't') out += "\t";
      else if(e == 'b') out += ShortToString(8);
      else if(e == 'f') out += ShortToString(12);
      else if(e == 'u')
        {
         if(i + 4 > n) return false;
         int v = 0;
         for(int k = 0; k < 4; k++)
           {
            int h = Hex(StringGetCharacter(s, i++));
            if(h < 0) return false;
            v = v * 16 + h;
           }
         out += ShortToString((ushort)v); // surrogate pairs stay pairs: MQL5 strings are UTF-16
        }
      else return false;
     }
   return false;
  }

bool ParseScalar(const string s, int &i, string &out)
  {
   int n = StringLen(s);
   int start = i;
   while(i < n)
     {
      ushort c = StringGetCharacter(s, i);
      if(c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n') break;
      i++;
     }
   out = StringSubstr(s, start, i - start);
   return i > start;
  }

bool ParseRequest(const string s)
  {
   ArrayResize(g_keys, 0);
   ArrayResize(g_vals, 0);
   ArrayResize(g_arr, 0);
   int i = 0, n = StringLen(s);
   SkipWs(s, i);
   if(i >= n || StringGetCharacter(s, i) != '{') return false;
   i++;
   SkipWs(s, i);
   if(i < n && StringGetCharacter(s, i) == '}') return true;
   while(i < n)
     {
      string key, val;
      SkipWs(s, i);
      if(!ParseString(s, i, key)) return false;
      SkipWs(s, i);
      if(i >= n || StringGetCharacter(s, i) != ':') return false;
      i++;
      SkipWs(s, i);
      if(i >= n) return false;
      ushort c = StringGetCharacter(s, i);
      if(c == '"')
        {
         if(!ParseString(s, i, val)) return false;
        }
      else if(c == '[')
        {
         i++;
         SkipWs(s, i);
         while(i < n && StringGetCharacter(s, i) != ']')
           {
            string item;
            if(!ParseString(s, i, item)) return false;
            int k = ArraySize(g_arr);
            ArrayResize(g_arr, k + 1);
            g_arr[k] = item;
            SkipWs(s, i);
            if(i < n && StringGetCharacter(s, i) == ',') { i++; SkipWs(s, i); }
           }
         if(i >= n) return false;
         i++;
         val = "";
        }
      else if(!ParseScalar(s, i, val)) return false;
      int k = ArraySize(g_keys);
      ArrayResize(g_keys, k + 1);
      ArrayResize(g_vals, k + 1);
      g_keys[k] = key;
      g_vals[k] = val;
      SkipWs(s, i);
      if(i >= n) return false;
      c = StringGetCharacter(s, i++);
      if(c == '}') return true;
      if(c != ',') return false;
     }
   return false;
  }

string S(const string key)
  {
   for(int k = 0; k < ArraySize(g_keys); k++)
      if(g_keys[k] == key) return g_vals[k];
   return "";
  }
long   L(const string key) { return StringToInteger(S(key)); }
double D(const string key) { return StringToDouble(S(key)); }
bool   Has(const string key)
  {
   for(int k = 0; k < ArraySize(g_keys); k++)
      if(g_keys[k] == key) return true;
   return false;
  }

//--- socket ----------------------------------------------------------------------------------

void Disconnect(const string why)
  {
   if(g_sock != INVALID_HANDLE)
     {
      PrintFormat("MtqBridge: disconnected (%s)", why);
      SocketClose(g_sock);
     }
   g_sock = INVALID_HANDLE;
   g_welcomed = false;
   g_rx_len = 0;
   g_discarding = false;
   ArrayResize(g_subs, 0);
   ArrayResize(g_sub_msc, 0);
   g_next_connect = GetTickCount64() + g_backoff;
   g_backoff = MathMin(g_backoff * 2, BACKOFF_MAX_MS);
  }

bool SendLine(const string line)
  {
   if(g_sock == INVALID_HANDLE) return false;
   uchar buf[];
   int n = StringToCharArray(line + "\n", buf, 0, WHOLE_ARRAY, CP_UTF8) - 1; // drop the NUL
   int sent = 0;
   int tries = 0;
   while(sent < n && tries < 50)
     {
      uchar part[];
      ArrayCopy(part, buf, 0, sent, n - sent);
      int k = SocketSend(g_sock, part, n - sent);
      if(k < 0) { Disconnect(StringFormat("send failed, error %d", GetLastError())); return false; }
      sent += k;
      tries++;
     }
   if(sent < n) { Disconnect("send incomplete"); return false; }
   g_last_tx = GetTickCount64();
   return true;
  }

string Envelope(const ulong id, const string type)
  {
   return StringFormat("{\"v\":%d,\"id\":%I64u,\"type\":%s", PROTOCOL, id, Q(type));
  }

void Reply(const ulong id, const uint retcode, const long external, const string comment,
           const int error, const string data)
  {
   SendLine(Envelope(id, "reply") + StringFormat(",\"retcode\":%u,\"retcode_external\":%I64d,\"comment\":%s,\"error\":%d,\"data\":%s}",
            retcode, external, Q(comment), error, data == "" ? "null" : data));
  }

void Fail(const ulong id, const int error, const string comment)
  {
   Reply(id, 0, 0, comment, error == 0 ? 1 : error, "null");
  }

void TryConnect()
  {
   g_sock = SocketCreate();
   if(g_sock == INVALID_HANDLE)
     {
      PrintFormat("MtqBridge: SocketCreate failed, error %d", GetLastError());
      g_next_connect = GetTickCount64() + g_backoff;
      return;
     }
   if(!SocketConnect(g_sock, "127.0.0.1", Port, 1000))
     {
      int err = GetLastError();
      SocketClose(g_sock);
      g_sock = INVALID_HANDLE;
      if(err == 4014)
         Print("MtqBridge: 127.0.0.1 is not allowed: add it in Tools > Options > Expert Advisors");
      g_next_connect = GetTickCount64() + g_backoff;
      g_backoff = MathMin(g_backoff * 2, BACKOFF_MAX_MS);
      return;
     }
   g_last_rx = GetTickCount64();
   g_rx_len = 0;
   string margin = EnumToString((ENUM_ACCOUNT_MARGIN_MODE)AccountInfoInteger(ACCOUNT_MARGIN_MODE));
   string hello = Envelope(1, "hello")
      + ",\"token\":" + Q(Token)
      + ",\"ea_version\":" + Q(EA_VERSION)
      + ",\"terminal_build\":" + IntegerToString(TerminalInfoInteger(TERMINAL_BUILD))
      + ",\"terminal_name\":" + Q(TerminalInfoString(TERMINAL_NAME))
      + ",\"login\":" + IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN))
      + ",\"server\":" + Q(AccountInfoString(ACCOUNT_SERVER))
      + ",\"company\":" + Q(AccountInfoString(ACCOUNT_COMPANY))
      + ",\"currency\":" + Q(AccountInfoString(ACCOUNT_CURRENCY))
      + ",\"leverage\":" + IntegerToString(AccountInfoInteger(ACCOUNT_LEVERAGE))
      + ",\"margin_mode\":" + Q(margin)
      + ",\"terminal_trade_allowed\":" + B((bool)TerminalInfoInteger(TERMINAL_TRADE_ALLOWED))
      + ",\"ea_trade_allowed\":" + B((bool)MQLInfoInteger(MQL_TRADE_ALLOWED))
      + ",\"time_trade_server\":" + IntegerToString((long)TimeTradeServer())
      + ",\"time_gmt\":" + IntegerToString((long)TimeGMT()) + "}";
   SendLine(hello);
  }

//--- requests --------------------------------------------------------------------------------

ENUM_TIMEFRAMES Tf(const string name)
  {
   if(name == "PERIOD_M1")  return PERIOD_M1;
   if(name == "PERIOD_M5")  return PERIOD_M5;
   if(name == "PERIOD_M15") return PERIOD_M15;
   if(name == "PERIOD_M30") return PERIOD_M30;
   if(name == "PERIOD_H1")  return PERIOD_H1;
   if(name == "PERIOD_H4")  return PERIOD_H4;
   if(name == "PERIOD_D1")  return PERIOD_D1;
   if(name == "PERIOD_W1")  return PERIOD_W1;
   if(name == "PERIOD_MN1") return PERIOD_MN1;
   return PERIOD_CURRENT;
  }

string TickJson(const string symbol, const MqlTick &t)
  {
   return StringFormat("\"time\":%I64d,\"time_msc\":%I64d,\"bid\":%s,\"ask\":%s,\"last\":%s,\"volume\":%I64u,\"flags\":%u",
                       (long)t.time, t.time_msc, Price(symbol, t.bid), Price(symbol, t.ask),
                       Price(symbol, t.last), t.volume, t.flags);
  }

void DoAccount(const ulong id)
  {
   string d = "{\"login\":" + IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN))
      + ",\"server\":" + Q(AccountInfoString(ACCOUNT_SERVER))
      + ",\"currency\":" + Q(AccountInfoString(ACCOUNT_CURRENCY))
      + ",\"balance\":" + Num(AccountInfoDouble(ACCOUNT_BALANCE))
      + ",\"equity\":" + Num(AccountInfoDouble(ACCOUNT_EQUITY))
      + ",\"margin\":" + Num(AccountInfoDouble(ACCOUNT_MARGIN))
      + ",\"margin_free\":" + Num(AccountInfoDouble(ACCOUNT_MARGIN_FREE))
      + ",\"margin_level\":" + Num(AccountInfoDouble(ACCOUNT_MARGIN_LEVEL))
      + ",\"leverage\":" + IntegerToString(AccountInfoInteger(ACCOUNT_LEVERAGE))
      + ",\"margin_mode\":" + Q(EnumToString((ENUM_ACCOUNT_MARGIN_MODE)AccountInfoInteger(ACCOUNT_MARGIN_MODE)))
      + ",\"trade_allowed\":" + B((bool)AccountInfoInteger(ACCOUNT_TRADE_ALLOWED))
      + ",\"trade_expert\":" + B((bool)AccountInfoInteger(ACCOUNT_TRADE_EXPERT)) + "}";
   Reply(id, 0, 0, "", 0, d);
  }

void DoSymbolInfo(const ulong id)
  {
   string s = S("symbol");
   bool custom;
   if(!SymbolExist(s, custom)) { Fail(id, 4301, "unknown symbol " + s); return; }
   string d = "{\"name\":" + Q(s)
      + ",\"select\":" + B((bool)SymbolInfoInteger(s, SYMBOL_SELECT))
      + ",\"visible\":" + B((bool)SymbolInfoInteger(s, SYMBOL_VISIBLE))
      + ",\"digits\":" + IntegerToString(SymbolInfoInteger(s, SYMBOL_DIGITS))
      + ",\"point\":" + Num(SymbolInfoDouble(s, SYMBOL_POINT), 10)
      + ",\"trade_tick_size\":" + Num(SymbolInfoDouble(s, SYMBOL_TRADE_TICK_SIZE), 10)
      + ",\"trade_tick_value\":" + Num(SymbolInfoDouble(s, SYMBOL_TRADE_TICK_VALUE))
      + ",\"trade_contract_size\":" + Num(SymbolInfoDouble(s, SYMBOL_TRADE_CONTRACT_SIZE))
      + ",\"volume_min\":" + Num(SymbolInfoDouble(s, SYMBOL_VOLUME_MIN))
      + ",\"volume_max\":" + Num(SymbolInfoDouble(s, SYMBOL_VOLUME_MAX))
      + ",\"volume_step\":" + Num(SymbolInfoDouble(s, SYMBOL_VOLUME_STEP))
      + ",\"trade_stops_level\":" + IntegerToString(SymbolInfoInteger(s, SYMBOL_TRADE_STOPS_LEVEL))
      + ",\"trade_freeze_level\":" + IntegerToString(SymbolInfoInteger(s, SYMBOL_TRADE_FREEZE_LEVEL))
      + ",\"filling_mode\":" + IntegerToString(SymbolInfoInteger(s, SYMBOL_FILLING_MODE))
      + ",\"trade_exemode\":" + Q(EnumToString((ENUM_SYMBOL_TRADE_EXECUTION)SymbolInfoInteger(s, SYMBOL_TRADE_EXEMODE)))
      + ",\"trade_mode\":" + Q(EnumToString((ENUM_SYMBOL_TRADE_MODE)SymbolInfoInteger(s, SYMBOL_TRADE_MODE)))
      + ",\"swap_mode\":" + Q(EnumToString((ENUM_SYMBOL_SWAP_MODE)SymbolInfoInteger(s, SYMBOL_SWAP_MODE)))
      + ",\"swap_long\":" + Num(SymbolInfoDouble(s, SYMBOL_SWAP_LONG))
      + ",\"swap_short\":" + Num(SymbolInfoDouble(s, SYMBOL_SWAP_SHORT))
      + ",\"swap_rollover3days\":" + Q(EnumToString((ENUM_DAY_OF_WEEK)SymbolInfoInteger(s, SYMBOL_SWAP_ROLLOVER3DAYS)))
      + ",\"currency_base\":" + Q(SymbolInfoString(s, SYMBOL_CURRENCY_BASE))
      + ",\"currency_profit\":" + Q(SymbolInfoString(s, SYMBOL_CURRENCY_PROFIT))
      + ",\"currency_margin\":" + Q(SymbolInfoString(s, SYMBOL_CURRENCY_MARGIN)) + "}";
   Reply(id, 0, 0, "", 0, d);
  }

// A symbol outside Market Watch has no live quotes and cannot be traded (ERR_MARKET_NOT_SELECTED,
// 4302). MTQ selects every symbol it uses after symbol_info; this covers a symbol the user removed
// from Market Watch since. symbol_info and symbols report the state as it is.
void EnsureSelected(const string s)
  {
   bool custom;
   if(s != "" && SymbolExist(s, custom) && !(bool)SymbolInfoInteger(s, SYMBOL_SELECT))
      if(!SymbolSelect(s, true))
         PrintFormat("MtqBridge: cannot add %s to Market Watch, error %d", s, GetLastError());
  }

void DoSymbolSelect(const ulong id)
  {
   if(SymbolSelect(S("symbol"), S("enable") != "false")) Reply(id, 0, 0, "", 0, "true");
   else Fail(id, GetLastError(), "SymbolSelect failed");
  }

void DoSymbols(const ulong id)
  {
   string d = "[";
   int n = SymbolsTotal(false);
   for(int i = 0; i < n; i++)
     {
      string s = SymbolName(i, false);
      if(i > 0) d += ",";
      d += "{\"name\":" + Q(s) + ",\"select\":" + B((bool)SymbolInfoInteger(s, SYMBOL_SELECT)) + "}";
     }
   Reply(id, 0, 0, "", 0, d + "]");
  }

void DoSubscribe(const ulong id)
  {
   int n = ArraySize(g_arr);
   ArrayResize(g_subs, n);
   ArrayResize(g_sub_msc, n);
   for(int i = 0; i < n; i++) { g_subs[i] = g_arr[i]; g_sub_msc[i] = 0; EnsureSelected(g_arr[i]); }
   Reply(id, 0, 0, "", 0, IntegerToString(n));
  }

void DoTick(const ulong id)
  {
   string s = S("symbol");
   EnsureSelected(s);
   MqlTick t;
   if(!SymbolInfoTick(s, t)) { Fail(id, GetLastError(), "no tick for " + s); return; }
   Reply(id, 0, 0, "", 0, "{" + TickJson(s, t) + "}");
  }

void DoRates(const ulong id)
  {
   string s = S("symbol");
   EnsureSelected(s);
   MqlRates r[];
   ArraySetAsSeries(r, false);
   int n;
   if(Has("count")) n = CopyRates(s, Tf(S("timeframe")), (int)L("start"), (int)L("count"), r);
   else             n = CopyRates(s, Tf(S("timeframe")), (datetime)L("from"), (datetime)L("to"), r);
   if(n < 0) { Reply(id, 0, 0, "CopyRates failed", GetLastError(), "[]"); return; }
   string d = "[";
   for(int i = 0; i < n; i++)
     {
      if(i > 0) d += ",";
      d += StringFormat("{\"time\":%I64d,\"open\":%s,\"high\":%s,\"low\":%s,\"close\":%s,\"tick_volume\":%I64d,\"spread\":%d,\"real_volume\":%I64d}",
                        (long)r[i].time, Price(s, r[i].open), Price(s, r[i].high), Price(s, r[i].low),
                        Price(s, r[i].close), r[i].tick_volume, r[i].spread, r[i].real_volume);
     }
   Reply(id, 0, 0, "", 0, d + "]");
  }

void DoPositions(const ulong id)
  {
   string d = "[";
   int n = PositionsTotal();
   bool first = true;
   for(int i = 0; i < n; i++)
     {
      ulong t = PositionGetTicket(i);
      if(t == 0) continue;
      string s = PositionGetString(POSITION_SYMBOL);
      if(!first) d += ",";
      first = false;
      d += "{\"ticket\":" + IntegerToString((long)t)
         + ",\"identifier\":" + IntegerToString(PositionGetInteger(POSITION_IDENTIFIER))
         + ",\"symbol\":" + Q(s)
         + ",\"type\":" + Q(EnumToString((ENUM_POSITION_TYPE)PositionGetInteger(POSITION_TYPE)))
         + ",\"volume\":" + Num(PositionGetDouble(POSITION_VOLUME))
         + ",\"price_open\":" + Price(s, PositionGetDouble(POSITION_PRICE_OPEN))
         + ",\"price_current\":" + Price(s, PositionGetDouble(POSITION_PRICE_CURRENT))
         + ",\"sl\":" + Price(s, PositionGetDouble(POSITION_SL))
         + ",\"tp\":" + Price(s, PositionGetDouble(POSITION_TP))
         + ",\"time\":" + IntegerToString(PositionGetInteger(POSITION_TIME))
         + ",\"time_msc\":" + IntegerToString(PositionGetInteger(POSITION_TIME_MSC))
         + ",\"swap\":" + Num(PositionGetDouble(POSITION_SWAP))
         + ",\"profit\":" + Num(PositionGetDouble(POSITION_PROFIT))
         + ",\"magic\":" + IntegerToString(PositionGetInteger(POSITION_MAGIC))
         + ",\"comment\":" + Q(PositionGetString(POSITION_COMMENT)) + "}";
     }
   Reply(id, 0, 0, "", 0, d + "]");
  }

void DoOrders(const ulong id)
  {
   string d = "[";
   int n = OrdersTotal();
   bool first = true;
   for(int i = 0; i < n; i++)
     {
      ulong t = OrderGetTicket(i);
      if(t == 0) continue;
      string s = OrderGetString(ORDER_SYMBOL);
      if(!first) d += ",";
      first = false;
      d += "{\"ticket\":" + IntegerToString((long)t)
         + ",\"symbol\":" + Q(s)
         + ",\"type\":" + Q(EnumToString((ENUM_ORDER_TYPE)OrderGetInteger(ORDER_TYPE)))
         + ",\"volume_initial\":" + Num(OrderGetDouble(ORDER_VOLUME_INITIAL))
         + ",\"volume_current\":" + Num(OrderGetDouble(ORDER_VOLUME_CURRENT))
         + ",\"price_open\":" + Price(s, OrderGetDouble(ORDER_PRICE_OPEN))
         + ",\"price_stoplimit\":" + Price(s, OrderGetDouble(ORDER_PRICE_STOPLIMIT))
         + ",\"sl\":" + Price(s, OrderGetDouble(ORDER_SL))
         + ",\"tp\":" + Price(s, OrderGetDouble(ORDER_TP))
         + ",\"time_setup\":" + IntegerToString(OrderGetInteger(ORDER_TIME_SETUP))
         + ",\"time_setup_msc\":" + IntegerToString(OrderGetInteger(ORDER_TIME_SETUP_MSC))
         + ",\"time_expiration\":" + IntegerToString(OrderGetInteger(ORDER_TIME_EXPIRATION))
         + ",\"type_time\":" + Q(EnumToString((ENUM_ORDER_TYPE_TIME)OrderGetInteger(ORDER_TYPE_TIME)))
         + ",\"magic\":" + IntegerToString(OrderGetInteger(ORDER_MAGIC))
         + ",\"comment\":" + Q(OrderGetString(ORDER_COMMENT)) + "}";
     }
   Reply(id, 0, 0, "", 0, d + "]");
  }

void DoDeals(const ulong id)
  {
   if(!HistorySelect((datetime)L("from"), (datetime)L("to")))
     { Fail(id, GetLastError(), "HistorySelect failed"); return; }
   string d = "[";
   int n = HistoryDealsTotal();
   bool first = true;
   for(int i = 0; i < n; i++)
     {
      ulong t = HistoryDealGetTicket(i);
      if(t == 0) continue;
      string s = HistoryDealGetString(t, DEAL_SYMBOL);
      if(!first) d += ",";
      first = false;
      d += "{\"ticket\":" + IntegerToString((long)t)
         + ",\"order\":" + IntegerToString(HistoryDealGetInteger(t, DEAL_ORDER))
         + ",\"position_id\":" + IntegerToString(HistoryDealGetInteger(t, DEAL_POSITION_ID))
         + ",\"symbol\":" + Q(s)
         + ",\"type\":" + Q(EnumToString((ENUM_DEAL_TYPE)HistoryDealGetInteger(t, DEAL_TYPE)))
         + ",\"entry\":" + Q(EnumToString((ENUM_DEAL_ENTRY)HistoryDealGetInteger(t, DEAL_ENTRY)))
         + ",\"reason\":" + Q(EnumToString((ENUM_DEAL_REASON)HistoryDealGetInteger(t, DEAL_REASON)))
         + ",\"volume\":" + Num(HistoryDealGetDouble(t, DEAL_VOLUME))
         + ",\"price\":" + (s == "" ? "0" : Price(s, HistoryDealGetDouble(t, DEAL_PRICE)))
         + ",\"commission\":" + Num(HistoryDealGetDouble(t, DEAL_COMMISSION))
         + ",\"fee\":" + Num(HistoryDealGetDouble(t, DEAL_FEE))
         + ",\"swap\":" + Num(HistoryDealGetDouble(t, DEAL_SWAP))
         + ",\"profit\":" + Num(HistoryDealGetDouble(t, DEAL_PROFIT))
         + ",\"time\":" + IntegerToString(HistoryDealGetInteger(t, DEAL_TIME))
         + ",\"time_msc\":" + IntegerToString(HistoryDealGetInteger(t, DEAL_TIME_MSC))
         + ",\"magic\":" + IntegerToString(HistoryDealGetInteger(t, DEAL_MAGIC))
         + ",\"comment\":" + Q(HistoryDealGetString(t, DEAL_COMMENT)) + "}";
     }
   Reply(id, 0, 0, "", 0, d + "]");
  }

ENUM_ORDER_TYPE OrderTypeOf(const string n)
  {
   if(n == "ORDER_TYPE_SELL")            return ORDER_TYPE_SELL;
   if(n == "ORDER_TYPE_BUY_LIMIT")       return ORDER_TYPE_BUY_LIMIT;
   if(n == "ORDER_TYPE_SELL_LIMIT")      return ORDER_TYPE_SELL_LIMIT;
   if(n == "ORDER_TYPE_BUY_STOP")        return ORDER_TYPE_BUY_STOP;
   if(n == "ORDER_TYPE_SELL_STOP")       return ORDER_TYPE_SELL_STOP;
   if(n == "ORDER_TYPE_BUY_STOP_LIMIT")  return ORDER_TYPE_BUY_STOP_LIMIT;
   if(n == "ORDER_TYPE_SELL_STOP_LIMIT") return ORDER_TYPE_SELL_STOP_LIMIT;
   return ORDER_TYPE_BUY;
  }

ENUM_ORDER_TYPE_FILLING FillingOf(const string n)
  {
   if(n == "ORDER_FILLING_IOC")    return ORDER_FILLING_IOC;
   if(n == "ORDER_FILLING_RETURN") return ORDER_FILLING_RETURN;
   return ORDER_FILLING_FOK;
  }

// The MqlTradeRequest action each request carries (docs/mt5-bridge.md, "Trade requests").
bool ActionFits(const string type, const string action)
  {
   if(type == "order_send" || type == "order_check")
      return action == "TRADE_ACTION_DEAL" || action == "TRADE_ACTION_PENDING";
   if(type == "position_close")  return action == "TRADE_ACTION_DEAL";
   if(type == "position_modify") return action == "TRADE_ACTION_SLTP";
   if(type == "order_cancel")    return action == "TRADE_ACTION_REMOVE";
   return false;
  }

// Copies MTQ's fields into a trade request. Every value was decided by MTQ.
void BuildRequest(const string type, MqlTradeRequest &r)
  {
   ZeroMemory(r);
   r.symbol = S("symbol");
   r.magic = (ulong)L("magic");
   r.comment = S("comment");
   if(type == "position_modify")
     {
      r.action = TRADE_ACTION_SLTP;
      r.position = (ulong)L("position");
      r.sl = D("sl");
      r.tp = D("tp");
      return;
     }
   if(type == "order_cancel")
     {
      r.action = TRADE_ACTION_REMOVE;
      r.order = (ulong)L("order");
      return;
     }
   r.action = (S("action") == "TRADE_ACTION_PENDING") ? TRADE_ACTION_PENDING : TRADE_ACTION_DEAL;
   r.position = (ulong)L("position");
   r.volume = D("volume");
   r.type = OrderTypeOf(S("order_type"));
   r.price = D("price");
   r.stoplimit = D("stoplimit");
   r.sl = D("sl");
   r.tp = D("tp");
   r.deviation = (ulong)L("deviation");
   r.type_filling = FillingOf(S("type_filling"));
   r.type_time = (S("type_time") == "ORDER_TIME_SPECIFIED") ? ORDER_TIME_SPECIFIED : ORDER_TIME_GTC;
   r.expiration = (datetime)L("expiration");
  }

// MqlTradeResult has no position field: a market deal's position is DEAL_POSITION_ID of the
// deal (HistoryDealSelect); requests naming a position (close, SL/TP) answer with it; pending
// orders and removals answer 0.
ulong PositionOfDeal(const ulong deal)
  {
   if(deal == 0 || !HistoryDealSelect(deal)) return 0;
   return (ulong)HistoryDealGetInteger(deal, DEAL_POSITION_ID);
  }

void DoTrade(const ulong id, const string type)
  {
   MqlTradeRequest r;
   MqlTradeResult res;
   ZeroMemory(res);
   if(!ActionFits(type, S("action"))) { Fail(id, 4003, "action " + S("action") + " does not fit " + type); return; }
   BuildRequest(type, r);
   EnsureSelected(r.symbol);
   ResetLastError();
   bool ok = OrderSend(r, res);
   int err = ok ? 0 : GetLastError();
   string d = StringFormat("{\"deal\":%I64u,\"order\":%I64u,\"position\":%I64u,\"volume\":%s,\"price\":%s,\"bid\":%s,\"ask\":%s,\"request_id\":%u,\"time\":%I64d}",
                           res.deal, res.order, r.position != 0 ? r.position : PositionOfDeal(res.deal),
                           Num(res.volume), Price(r.symbol, res.price), Price(r.symbol, res.bid),
                           Price(r.symbol, res.ask), res.request_id, (long)TimeTradeServer());
   Reply(id, res.retcode, (long)res.retcode_external, res.comment, err, d);
  }

void DoOrderCheck(const ulong id)
  {
   MqlTradeRequest r;
   MqlTradeCheckResult c;
   ZeroMemory(c);
   if(!ActionFits("order_check", S("action"))) { Fail(id, 4003, "action " + S("action") + " does not fit order_check"); return; }
   BuildRequest("order_send", r);
   EnsureSelected(r.symbol);
   ResetLastError();
   bool ok = OrderCheck(r, c);
   int err = ok ? 0 : GetLastError();
   string d = "{\"balance\":" + Num(c.balance) + ",\"equity\":" + Num(c.equity)
      + ",\"profit\":" + Num(c.profit) + ",\"margin\":" + Num(c.margin)
      + ",\"margin_free\":" + Num(c.margin_free) + ",\"margin_level\":" + Num(c.margin_level) + "}";
   Reply(id, c.retcode, 0, c.comment, err, d);
  }

void Handle(const string line)
  {
   if(!ParseRequest(line)) { Print("MtqBridge: unreadable line from MTQ skipped"); return; }
   if(L("v") != PROTOCOL) { Print("MtqBridge: MTQ speaks another protocol version"); return; }
   ulong id = (ulong)L("id");
   string type = S("type");
   if(type == "welcome")
     {
      g_welcomed = true;
      g_backoff = BACKOFF_MIN_MS;
      Print("MtqBridge: connected to MTQ on port ", Port);
      return;
     }
   if(type == "error") { Disconnect("refused by MTQ: " + S("comment")); return; }
   if(type == "heartbeat") return;
   if(!g_welcomed) return;
   if(type == "account")              DoAccount(id);
   else if(type == "symbol_info")     DoSymbolInfo(id);
   else if(type == "symbol_select")   DoSymbolSelect(id);
   else if(type == "symbols")         DoSymbols(id);
   else if(type == "subscribe")       DoSubscribe(id);
   else if(type == "tick")            DoTick(id);
   else if(type == "rates")           DoRates(id);
   else if(type == "positions")       DoPositions(id);
   else if(type == "orders")          DoOrders(id);
   else if(type == "history_deals")   DoDeals(id);
   else if(type == "order_check")     DoOrderCheck(id);
   else if(type == "order_send" || type == "position_modify" || type == "position_close" || type == "order_cancel")
      DoTrade(id, type);
   else Fail(id, 4014, "unknown request type " + type);
  }

// Reads what is available without waiting and handles every complete line.
void Poll()
  {
   uint avail = SocketIsReadable(g_sock);
   while(avail > 0 && g_sock != INVALID_HANDLE)
     {
      uchar chunk[];
      int n = SocketRead(g_sock, chunk, MathMin(avail, 65536), 10);
      if(n <= 0) { Disconnect(StringFormat("read failed, error %d", GetLastError())); return; }
      g_last_rx = GetTickCount64();
      for(int i = 0; i < n && g_sock != INVALID_HANDLE; i++)
        {
         if(chunk[i] == '\n')
           {
            if(!g_discarding && g_rx_len > 0)
               Handle(CharArrayToString(g_rx, 0, g_rx_len, CP_UTF8));
            g_rx_len = 0;
            g_discarding = false;
            continue;
           }
         if(g_discarding) continue;
         if(g_rx_len >= MAX_LINE) { g_discarding = true; g_rx_len = 0; Print("MtqBridge: overlong line skipped"); continue; }
         if(g_rx_len >= ArraySize(g_rx)) ArrayResize(g_rx, MathMax(4096, g_rx_len * 2));
         g_rx[g_rx_len++] = chunk[i];
        }
      if(g_sock == INVALID_HANDLE) return;
      avail = SocketIsReadable(g_sock);
     }
   if(!SocketIsConnected(g_sock)) Disconnect("closed by MTQ");
  }

void PushTicks()
  {
   for(int i = 0; i < ArraySize(g_subs) && g_sock != INVALID_HANDLE; i++)
     {
      MqlTick t;
      if(!SymbolInfoTick(g_subs[i], t) || t.time_msc == g_sub_msc[i]) continue;
      g_sub_msc[i] = t.time_msc;
      SendLine(Envelope(0, "tick") + ",\"symbol\":" + Q(g_subs[i]) + "," + TickJson(g_subs[i], t) + "}");
     }
  }

//--- event handlers --------------------------------------------------------------------------

int OnInit()
  {
   int len = StringLen(Token);
   if(len < 8 || len > 128)
     {
      Print("MtqBridge: set the Token input to MTQ's --mt5-token (8 to 128 characters)");
      return INIT_PARAMETERS_INCORRECT;
     }
   EventSetMillisecondTimer(MathMax(10, TimerMilliseconds));
   g_next_connect = 0;
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   Disconnect("EA removed");
  }

void OnTimer()
  {
   ulong now = GetTickCount64();
   if(g_sock == INVALID_HANDLE)
     {
      if(now >= g_next_connect) TryConnect();
      return;
     }
   Poll();
   if(g_sock == INVALID_HANDLE) return;
   if(now - g_last_rx > (ulong)DeadAfterSeconds * 1000)
     {
      Disconnect("MTQ silent: heartbeat timeout");
      return;
     }
   if(g_welcomed) PushTicks();
   if(g_sock != INVALID_HANDLE && GetTickCount64() - g_last_tx >= (ulong)HeartbeatSeconds * 1000)
      SendLine(Envelope(0, "heartbeat") + ",\"time_trade_server\":" + IntegerToString((long)TimeTradeServer())
               + ",\"time_gmt\":" + IntegerToString((long)TimeGMT()) + "}");
  }

void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
  {
   if(g_sock == INVALID_HANDLE || !g_welcomed) return;
   string s = trans.symbol;
   string m = Envelope(0, "trade_transaction")
      + ",\"transaction\":{\"type\":" + Q(EnumToString(trans.type))
      + ",\"deal\":" + IntegerToString((long)trans.deal)
      + ",\"order\":" + IntegerToString((long)trans.order)
      + ",\"position\":" + IntegerToString((long)trans.position)
      + ",\"position_by\":" + IntegerToString((long)trans.position_by)
      + ",\"symbol\":" + Q(s)
      + ",\"order_type\":" + Q(EnumToString(trans.order_type))
      + ",\"order_state\":" + Q(EnumToString(trans.order_state))
      + ",\"deal_type\":" + Q(EnumToString(trans.deal_type))
      + ",\"time_type\":" + Q(EnumToString(trans.time_type))
      + ",\"time_expiration\":" + IntegerToString((long)trans.time_expiration)
      + ",\"price\":" + Num(trans.price)
      + ",\"price_trigger\":" + Num(trans.price_trigger)
      + ",\"price_sl\":" + Num(trans.price_sl)
      + ",\"price_tp\":" + Num(trans.price_tp)
      + ",\"volume\":" + Num(trans.volume) + "}";
   if(trans.type == TRADE_TRANSACTION_REQUEST)
     {
      m += ",\"request\":{\"action\":" + Q(EnumToString(request.action))
         + ",\"order\":" + IntegerToString((long)request.order)
         + ",\"symbol\":" + Q(request.symbol)
         + ",\"volume\":" + Num(request.volume)
         + ",\"price\":" + Num(request.price)
         + ",\"sl\":" + Num(request.sl)
         + ",\"tp\":" + Num(request.tp)
         + ",\"magic\":" + IntegerToString((long)request.magic)
         + ",\"comment\":" + Q(request.comment)
         + ",\"position\":" + IntegerToString((long)request.position) + "}"
         + ",\"result\":{\"retcode\":" + IntegerToString(result.retcode)
         + ",\"deal\":" + IntegerToString((long)result.deal)
         + ",\"order\":" + IntegerToString((long)result.order)
         + ",\"volume\":" + Num(result.volume)
         + ",\"price\":" + Num(result.price)
         + ",\"comment\":" + Q(result.comment)
         + ",\"request_id\":" + IntegerToString(result.request_id) + "}";
     }
   SendLine(m + "}");
  }
//+------------------------------------------------------------------+
