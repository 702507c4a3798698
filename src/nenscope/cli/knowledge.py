"""Knowledge sub-commands: protocol, tracer, decay."""
