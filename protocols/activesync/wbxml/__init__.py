"""ActiveSync WBXML codec (MS-ASWBXML over WBXML 1.3): pure, streaming, bounded.

* :class:`WbxmlDecoder` - sans-IO pull parser: ``feed(bytes)``, ``next_event()``.
* :class:`WbxmlWriter` - streaming encoder with a lazy tag stack, writing to a sink.
* :func:`decode` / :func:`encode` / :func:`iter_encode` - whole documents as
  :class:`Element` trees; :func:`from_xml` / :func:`to_xml` / :func:`to_etree` /
  :func:`from_etree` - the EAS XML view of the same trees.
* :data:`CODE_PAGES` - the 26 code pages; :func:`lookup_tag` resolves ``"AirSync:Sync"``.

Everything the decoder rejects raises :class:`WbxmlError`, a
:class:`groupware.errors.InvalidInput`.
"""

from .codepages import CODE_PAGES, CodePage, Tag, all_tags, lookup_tag, page_for_namespace
from .decoder import DecoderLimits, WbxmlDecoder, decode_events
from .encoder import WbxmlWriter, encode_events
from .errors import (
    WbxmlEncodeError,
    WbxmlError,
    WbxmlLimitExceeded,
    WbxmlTruncated,
    WbxmlUnknownCodePage,
    WbxmlUnknownTag,
    WbxmlUnsupported,
)
from .events import EndElement, Event, Header, Opaque, StartElement, Text
from .tree import Element, build_tree, decode, encode, iter_encode, make, write_element
from .xmlconv import from_etree, from_xml, to_etree, to_xml

__all__ = [
    "CODE_PAGES",
    "CodePage",
    "DecoderLimits",
    "Element",
    "EndElement",
    "Event",
    "Header",
    "Opaque",
    "StartElement",
    "Tag",
    "Text",
    "WbxmlDecoder",
    "WbxmlEncodeError",
    "WbxmlError",
    "WbxmlLimitExceeded",
    "WbxmlTruncated",
    "WbxmlUnknownCodePage",
    "WbxmlUnknownTag",
    "WbxmlUnsupported",
    "WbxmlWriter",
    "all_tags",
    "build_tree",
    "decode",
    "decode_events",
    "encode",
    "encode_events",
    "from_etree",
    "from_xml",
    "iter_encode",
    "lookup_tag",
    "make",
    "page_for_namespace",
    "to_etree",
    "to_xml",
    "write_element",
]
