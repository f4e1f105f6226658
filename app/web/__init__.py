"""The web edge: request edge, security headers, cookies, page frame, languages, forms, errors, static files."""
