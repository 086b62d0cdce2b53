"""The service's foundations: settings, database, accounts and tokens, file storage, uploads."""
