"""Live mode: judge a stream, or a file played at its real speed, as it plays.

:func:`deepverify.live.session.run_live` is the one core the CLI (and later the service) call;
it reuses ``scan``'s stages. Settings live in :mod:`deepverify.live.options`, the typed updates
in :mod:`deepverify.live.updates`, the source (opening, reconnecting, sampling) in
:mod:`deepverify.live.source`, the session report in :mod:`deepverify.live.record`. Nothing is
imported here, so that reading the settings does not load the pipeline.
"""
