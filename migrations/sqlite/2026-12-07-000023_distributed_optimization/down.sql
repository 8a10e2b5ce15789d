DROP TABLE optimization_chunks;
DROP INDEX optimization_results_run_set;
ALTER TABLE optimization_results DROP COLUMN set_index;
DROP INDEX optimization_runs_distributed;
ALTER TABLE optimization_runs DROP COLUMN distributed_run;
