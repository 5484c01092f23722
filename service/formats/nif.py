"""NIF 2.0 (Turtle) in and out, as GERBIL's NIF web-service protocol speaks it, with rdflib.

In: a POST of a NIF document (``Content-Type: text/turtle`` or ``application/x-turtle``) with one
or more ``nif:Context`` nodes carrying ``nif:isString``, and, for each, none or some
``nif:Phrase`` nodes (``nif:referenceContext`` the context, ``nif:beginIndex``/``nif:endIndex``,
usually ``nif:anchorOf``).
- A context with phrases is GERBIL's D2KB task: exactly those spans are disambiguated (never
  re-spotted), and each phrase gets one ``itsrdf:taIdentRef``.
- A context without phrases is the A2KB task: the names factlink finds are added as new
  ``nif:Phrase`` nodes ``<context base#char=b,e>``, the way RFC 5147 string IRIs are formed.

Out: the same graph (every triple sent comes back), plus per mention ``itsrdf:taIdentRef`` to
the Wikidata IRI (``http://www.wikidata.org/entity/Q…``), ``itsrdf:taConfidence`` (xsd:double;
linked mentions only) and, when the result has fact cards, ``itsrdf:taClassRef`` per ``P31`` type
of the entity (what GERBIL's typing tasks and DBpedia Spotlight's NIF carry).
A mention factlink cannot link (NIL) gets ``itsrdf:taIdentRef <http://aksw.org/notInWiki/Name>``,
GERBIL's convention for an entity outside the knowledge base (its datasets mark emerging
entities in that namespace; GERBIL scores any IRI there as "not in the KB"), so every given
phrase is answered and none is silently dropped.

Offsets: NIF counts Unicode code points (``str`` indices). Java tools, GERBIL among them, count
UTF-16 units; they differ only past the Basic Multilingual Plane (emoji). A phrase whose
``nif:anchorOf`` is not the text at its code point offsets but is the text at those UTF-16
offsets is read as UTF-16; one that matches neither is a 400 ``invalid_nif``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from linkers import errors

NIF = Namespace("http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#")
ITSRDF = Namespace("http://www.w3.org/2005/11/its/rdf#")
WIKIDATA_ENTITY = Namespace("http://www.wikidata.org/entity/")
NOT_IN_WIKI = "http://aksw.org/notInWiki/"


@dataclass
class NifContext:
    """One ``nif:Context`` of a request: its text and its given phrases (code point spans)."""

    node: Node
    text: str
    phrases: dict[tuple[int, int], list[Node]] = field(default_factory=dict)

    @property
    def given(self) -> bool:
        """Whether the request gave the mentions (D2KB) rather than asking for them (A2KB)."""
        return bool(self.phrases)


def parse_nif(body: bytes) -> tuple[Graph, list[NifContext]]:
    """A Turtle body -> its graph and contexts; MalformedTurtle / InvalidNIF say what is wrong."""
    try:
        data = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.InvalidEncoding(f"the body is not valid UTF-8 (byte {exc.start})") from None
    graph = Graph()
    try:
        graph.parse(data=data, format="turtle")
    except Exception as exc:    # rdflib raises BadSyntax, ValueError, ... for what it cannot read
        reason = " ".join(str(exc).split())[:300]
        if not isinstance(exc, SyntaxError):    # BadSyntax says where; the others do not
            reason = f"it may end early ({type(exc).__name__}: {reason})"
        raise errors.MalformedTurtle(f"the body is not valid Turtle: {reason}") from None
    contexts = []
    for node in sorted(set(graph.subjects(RDF.type, NIF.Context))):
        text = graph.value(node, NIF.isString)
        if not isinstance(text, Literal) or not str(text):
            raise errors.InvalidNIF(f"nif:Context <{node}> has no nif:isString text")
        contexts.append(NifContext(node, str(text)))
    if not contexts:
        raise errors.InvalidNIF("the document has no nif:Context (a node typed nif:Context "
                                "with its text in nif:isString)")
    by_node = {c.node: c for c in contexts}
    for phrase in sorted(set(graph.subjects(RDF.type, NIF.Phrase))):
        context = by_node.get(graph.value(phrase, NIF.referenceContext))
        if context is None:
            raise errors.InvalidNIF(f"nif:Phrase <{phrase}> has no nif:referenceContext of "
                                    "this document")
        span = _span(graph, phrase, context.text)
        context.phrases.setdefault(span, []).append(phrase)
    return graph, contexts


def _span(graph: Graph, phrase: Node, text: str) -> tuple[int, int]:
    try:
        begin = int(graph.value(phrase, NIF.beginIndex))
        end = int(graph.value(phrase, NIF.endIndex))
    except (TypeError, ValueError):
        raise errors.InvalidNIF(f"nif:Phrase <{phrase}> needs integer nif:beginIndex and "
                                "nif:endIndex") from None
    anchor = graph.value(phrase, NIF.anchorOf)
    if not 0 <= begin < end:
        raise errors.InvalidNIF(f"nif:Phrase <{phrase}>: [{begin}, {end}) is not a span")
    if end <= len(text) and (anchor is None or text[begin:end] == str(anchor)):
        if not text[begin:end].strip():
            raise errors.InvalidNIF(f"nif:Phrase <{phrase}>: [{begin}, {end}) is only white space")
        return begin, end
    if anchor is None:
        raise errors.InvalidNIF(f"nif:Phrase <{phrase}>: [{begin}, {end}) is outside the "
                                f"{len(text)}-character context")
    units = text.encode("utf-16-le")
    if units[2 * begin:2 * end].decode("utf-16-le", errors="replace") == str(anchor):
        start = len(units[:2 * begin].decode("utf-16-le", errors="replace"))
        return start, start + len(str(anchor))
    raise errors.InvalidNIF(f"nif:Phrase <{phrase}>: nif:anchorOf {str(anchor)!r} is not the "
                            f"text at [{begin}, {end}) ({text[begin:end]!r})")


def _base(context: Node) -> str:
    """The document part of a context IRI (``…/request_0`` of ``…/request_0#char=0,41``)."""
    return str(context).split("#", 1)[0]


def entity_iri(mention: dict) -> URIRef:
    if mention.get("qid"):
        return WIKIDATA_ENTITY[mention["qid"]]
    return URIRef(NOT_IN_WIKI + quote(mention["text"].strip().replace(" ", "_"), safe="_-.~(),'"))


def annotate(graph: Graph, context: NifContext, result: dict) -> None:
    """Add ``result``'s mentions of ``context`` to ``graph`` (given phrases, or new ones)."""
    for mention in result["mentions"]:
        span = (mention["start"], mention["end"])
        if context.given:
            phrases = context.phrases.get(span, ())
        else:
            phrases = [_new_phrase(graph, context, *span)]
        # a given phrase's links are replaced (a gold standard sent as is); a new phrase has
        # none, and graph.add costs half of graph.set
        put = graph.set if context.given else graph.add
        card = result.get("entities", {}).get(mention.get("qid")) or {}
        for phrase in phrases:
            put((phrase, ITSRDF.taIdentRef, entity_iri(mention)))
            if mention.get("qid"):      # a NIL's confidence is that of a rejected candidate
                put((phrase, ITSRDF.taConfidence,
                     Literal(float(mention["confidence"]), datatype=XSD.double)))
            if context.given:
                graph.remove((phrase, ITSRDF.taClassRef, None))
            for entity_type in card.get("types", ()):
                graph.add((phrase, ITSRDF.taClassRef, WIKIDATA_ENTITY[entity_type["qid"]]))


def _new_phrase(graph: Graph, context: NifContext, start: int, end: int) -> URIRef:
    phrase = URIRef(f"{_base(context.node)}#char={start},{end}")
    for kind in (NIF.RFC5147String, NIF.String, NIF.Phrase):
        graph.add((phrase, RDF.type, kind))
    graph.add((phrase, NIF.referenceContext, context.node))
    graph.add((phrase, NIF.anchorOf, Literal(context.text[start:end], datatype=XSD.string)))
    graph.add((phrase, NIF.beginIndex, Literal(start, datatype=XSD.nonNegativeInteger)))
    graph.add((phrase, NIF.endIndex, Literal(end, datatype=XSD.nonNegativeInteger)))
    return phrase


def document(result: dict, texts: list[str], document_iri: str) -> Graph:
    """A JSON request's result as a NIF document: one context per text (the article, or each
    of its segments: ``<document>/segments/k``), one phrase per mention."""
    graph = new_graph()
    contexts = []
    document_iri = document_iri.split("#", 1)[0]        # string IRIs add their own fragment
    for k, text in enumerate(texts):
        base = document_iri if len(texts) == 1 else f"{document_iri}/segments/{k}"
        node = URIRef(f"{base}#char=0,{len(text)}")
        for kind in (NIF.RFC5147String, NIF.String, NIF.Context):
            graph.add((node, RDF.type, kind))
        graph.add((node, NIF.isString, Literal(text, datatype=XSD.string)))
        graph.add((node, NIF.beginIndex, Literal(0, datatype=XSD.nonNegativeInteger)))
        graph.add((node, NIF.endIndex, Literal(len(text), datatype=XSD.nonNegativeInteger)))
        contexts.append(NifContext(node, text))
    for k, context in enumerate(contexts):
        mentions = [m for m in result["mentions"] if (m.get("segment") or 0) == k]
        annotate(graph, context, {"mentions": mentions})
    return graph


def new_graph() -> Graph:
    graph = Graph()
    graph.bind("nif", NIF)
    graph.bind("itsrdf", ITSRDF)
    graph.bind("xsd", XSD)
    graph.bind("wd", WIKIDATA_ENTITY)
    return graph


def turtle(graph: Graph) -> bytes:
    for prefix, namespace in (("nif", NIF), ("itsrdf", ITSRDF), ("wd", WIKIDATA_ENTITY)):
        graph.bind(prefix, namespace, replace=True)
    return graph.serialize(format="turtle", encoding="utf-8")
