"""A linking result as W3C Web Annotations (https://www.w3.org/TR/annotation-model/), JSON-LD.

One ``AnnotationCollection`` with its one page embedded; one ``Annotation`` per linked mention:

- ``motivation`` ``identifying``; ``body`` the Wikidata entity IRI
  (``http://www.wikidata.org/entity/Q7184``, the IRI Wikidata's RDF uses for the item).
- ``target``: ``source`` is the document IRI (``?source=``; without it, the job's URL on this
  service, which serves the result) and two selectors: a ``TextQuoteSelector`` (``exact``, and
  up to 32 characters of ``prefix`` and ``suffix``, as Hypothes.is anchors) and a
  ``TextPositionSelector`` whose ``start``/``end`` count Unicode code points, as the model
  requires (the same numbers as the JSON mention's ``start``/``end``, not ``start_utf16``).
  A mention of a ``segments`` request has no position in one document: it gets the quote
  selector only, with prefix and suffix from its own segment.
- The confidence is ``taConfidence``: ITS 2.0's ``itsrdf:taConfidence``
  (http://www.w3.org/2005/11/its/rdf#taConfidence, an xsd:double in [0, 1]), the property NIF
  uses for the same number; the context adds it beside the Web Annotation context.

Unlinked (NIL) mentions identify nothing and are left out here; the JSON and NIF outputs keep
them.
"""
from __future__ import annotations

from . import WEB_ANNOTATION_CONTEXT

WIKIDATA_ENTITY = "http://www.wikidata.org/entity/"
ITS_RDF = "http://www.w3.org/2005/11/its/rdf#"
QUOTE_CONTEXT_CHARS = 32
CONTEXT = [WEB_ANNOTATION_CONTEXT, {
    "itsrdf": ITS_RDF,
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "taConfidence": {"@id": "itsrdf:taConfidence", "@type": "xsd:double"},
}]


def annotation_collection(result: dict, texts: list[str], source: str, collection_id: str,
                          generator: str = "factlink") -> dict:
    """The JSON-LD document of ``result``'s linked mentions over ``texts`` (the article's text,
    or its segments); annotation ids are fragments of ``collection_id``."""
    items = []
    for k, mention in enumerate(result["mentions"]):
        if mention.get("qid") is None:
            continue
        segment = mention.get("segment")
        text = texts[segment or 0]
        start, end = mention["start"], mention["end"]
        selectors = [{"type": "TextQuoteSelector", "exact": text[start:end],
                      "prefix": text[max(0, start - QUOTE_CONTEXT_CHARS):start],
                      "suffix": text[end:end + QUOTE_CONTEXT_CHARS]}]
        if segment is None:
            selectors.append({"type": "TextPositionSelector", "start": start, "end": end})
        items.append({
            "id": f"{collection_id}#mention-{k}", "type": "Annotation",
            "motivation": "identifying",
            "body": WIKIDATA_ENTITY + mention["qid"],
            "target": {"source": source, "selector": selectors},
            "taConfidence": mention["confidence"],
        })
    return {
        "@context": CONTEXT, "id": collection_id, "type": "AnnotationCollection",
        "label": f"Wikidata entities linked by {generator}", "total": len(items),
        "first": {"id": f"{collection_id}#page-1", "type": "AnnotationPage", "startIndex": 0,
                  "items": items},
    }
