-- The model reading that filtered a signal (mtq-ml): the model's name@version and its probability, and whether it was in use (active, fallen_back, stopped).
ALTER TABLE signals ADD COLUMN ml_model TEXT;
ALTER TABLE signals ADD COLUMN ml_status TEXT;
ALTER TABLE signals ADD COLUMN ml_probability DOUBLE;
