DROP TABLE backtest_runs;
