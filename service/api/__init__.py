"""HTTP controllers: parse, authorise, call the domain, shape the reply."""
