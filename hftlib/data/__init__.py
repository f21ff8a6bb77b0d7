"""Event storage (Parquet, memory-mapped npy), the streaming reader, validation, synthesis."""
