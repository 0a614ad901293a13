"""Series completion, the analysis job queue, workers and the result outbox."""
