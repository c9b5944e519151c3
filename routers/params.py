"""Path parameters that several routers share."""

from typing import Annotated

from fastapi import Path
from starlette.convertors import Convertor, register_url_convertor

from fields import MAX_ID, CustomerOID

CustomerOIDPath = Annotated[CustomerOID, Path(description="The customer's CustomerOID")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="The item's id")]


class TransactionIdSegment(Convertor[str]):
    """A transaction's id in a path: any segment but `sync`, so that the item routes of
    /customer/{customer_oid}/transactions/{item_id} leave /transactions/sync to the change feed
    (a PATCH there is then 405, not an invalid id). The id itself is validated as any other."""

    regex = "(?!sync$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("transaction_id", TransactionIdSegment())
