"""The durable store on SQLAlchemy: engine, table, migrations and the Database port."""
