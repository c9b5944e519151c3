"""The bank's domain, one module per subject: plain functions over a Session.

HTTP routes (routers/) and MCP tools (mcp_server.py) are two thin faces over these functions,
which they run through db.Database.read or .write. Each function takes the session first and
everything else by keyword. Functions that change data take a WriteSession and commit. Customer
OIDs passed in are already canonical (fields.normalize_customer_oid): every face validates them
at its edge.
"""
