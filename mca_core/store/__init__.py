"""The desk's own database: audit log, snapshots, the bulk journal and enhanced
attestations (SQLAlchemy Core; SQLite or PostgreSQL)."""
