"""Path parameters that several routers share."""

from typing import Annotated

from fastapi import Path

from fields import MAX_ID, CustomerOID

CustomerOIDPath = Annotated[CustomerOID, Path(description="The customer's CustomerOID")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="The item's id")]
