"""The local web page (`python -m nst_tf serve`): drop a photo, pick a style, watch it happen.

`app` builds the Starlette application (the page, its script and style sheet, the JSON API and the
server-sent progress stream), `jobs` the one-at-a-time queue and each job's events, `routes` the three
ways of making a picture (a shipped network, any painting, optimising the picture) as calls to the library
entries, `clips` the fourth route (a short clip through a network or a painting, with the video entry),
`checks` what every job request's checks share, `workspace` the temporary folder the app owns (uploads,
checked by content, and results under opaque ids), and `server` the address check and uvicorn (`python -m
nst_tf serve`). Why Starlette + uvicorn: see `app`. Nothing
here is imported by the rest of the package: it is a front room (tests/test_architecture.py).
"""
