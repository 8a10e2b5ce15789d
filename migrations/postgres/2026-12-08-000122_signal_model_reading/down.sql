ALTER TABLE signals DROP COLUMN ml_probability;
ALTER TABLE signals DROP COLUMN ml_status;
ALTER TABLE signals DROP COLUMN ml_model;
