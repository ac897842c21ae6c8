"""An upload handler that keeps files in memory only, so no photo lands in a temp file.

Files over ``SITTER_MAX_UPLOAD_BYTES`` are not kept at all: the handler stops collecting at the
limit and marks the file, and the service refuses it with a clear message.
"""

import io

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class MemoryOnlyUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()
        self.received = 0
        self.limit = settings.SITTER_MAX_UPLOAD_BYTES

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received <= self.limit:
            self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size):
        too_large = self.received > self.limit
        if too_large:
            self.buffer = io.BytesIO()
        self.buffer.seek(0)
        uploaded = InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=self.received,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
        uploaded.too_large = too_large
        return uploaded
