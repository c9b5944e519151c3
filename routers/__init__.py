"""The HTTP routes, one module per area, each a module-level APIRouter with literal paths."""
