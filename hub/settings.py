"""Where things live, for the CLI: the rules are defined once in `pipelines.settings`."""
from pipelines.settings import (  # noqa: F401
    DEFAULT_WAREHOUSE,
    REPO_ROOT,
    silos_dir,
    state_dir,
    survivorship_file,
    warehouse_path,
)
