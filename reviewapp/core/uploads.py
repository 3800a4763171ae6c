"""An upload handler that stops reading a body once it is over the limit, as it streams in:
a 10 GB upload is refused after CLIP_MAX_BYTES, not after writing 10 GB to a temporary file."""

from django.core.files.uploadhandler import TemporaryFileUploadHandler
from rest_framework import status
from rest_framework.exceptions import APIException

FORM_FIELDS_ALLOWANCE = 64 * 1024  # the other form fields and the multipart boundaries


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"
    default_detail = "the upload is over the size limit"


class LimitedUploadHandler(TemporaryFileUploadHandler):
    def __init__(self, request=None, *, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"the upload is over the limit of {self.max_bytes} bytes")

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # A declared length over the limit is refused before a byte is read.
        if content_length and content_length > self.max_bytes + FORM_FIELDS_ALLOWANCE:
            raise self._too_large()
        return super().handle_raw_input(input_data, META, content_length, boundary, encoding)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            if self.file is not None:
                self.file.close()  # the temporary file is deleted on close
            raise self._too_large()
        return super().receive_data_chunk(raw_data, start)
