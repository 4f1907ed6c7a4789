"""Demo data: a seeded population of US customers spread over five departmental silos.

- `hub.demo.generator.generate_demo(out_dir, n_people, seed)` writes the silo files + truth.csv.
- `hub.demo.generator.generate_canonical(n_people, seed)` returns the same records as canonical
  raw rows plus truth, vectorised for benchmark sizes (1M people in well under a minute of CPU).
- `hub.demo.rest_server.start_support_api(json_path, token)` serves the support silo over HTTP.

Modules: pools (names, places, employers), population (people, households, history), records
(silo membership and per-record true values), noise and typos (what systems do to values),
render (formats), silos (one builder per department), strings (fast text building).
"""
