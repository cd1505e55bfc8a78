"""Write operations on customers and their data, one module per subdomain
(`imports` for file imports, `demo` for demo data)."""
