-- Distributed optimisation (issue 23): every result names its parameter set, so a result delivered
-- twice (a work item redelivered after its worker died) is refused by the database, and the work
-- is planned as chunks whose state survives the submitting process, for progress and --resume.
ALTER TABLE optimization_runs ADD COLUMN distributed_run TEXT;
CREATE INDEX optimization_runs_distributed ON optimization_runs (distributed_run);
ALTER TABLE optimization_results ADD COLUMN set_index BIGINT;
CREATE UNIQUE INDEX optimization_results_run_set ON optimization_results (run_id, set_index);
CREATE TABLE optimization_chunks (
    run_id BIGINT NOT NULL REFERENCES optimization_runs (id) ON DELETE CASCADE,
    chunk INTEGER NOT NULL,
    first_set BIGINT NOT NULL,
    sets INTEGER NOT NULL,
    status TEXT NOT NULL,
    invalid INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    seconds DOUBLE,
    finished_at TEXT,
    PRIMARY KEY (run_id, chunk)
);
