"""The formats of the field, rendered from a linking result and read back with rdflib: W3C Web
Annotation (JSON-LD) and NIF 2.0 (Turtle); and how ``?format=`` / ``Accept`` pick one."""
from __future__ import annotations

import json

import pytest
from rdflib import RDF, Graph, Literal, Namespace, URIRef

from linkers import errors, link
from service.formats import Format, negotiate, parse_source
from service.formats import nif as nif_format
from service.formats.webannotation import annotation_collection

NIF = Namespace("http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#")
ITSRDF = Namespace("http://www.w3.org/2005/11/its/rdf#")
OA = Namespace("http://www.w3.org/ns/oa#")
WD = Namespace("http://www.wikidata.org/entity/")

# The terms of http://www.w3.org/ns/anno.jsonld this service uses, as that context maps them
# (the tests run offline, so rdflib cannot fetch the published context).
ANNO_CONTEXT = {
    "oa": "http://www.w3.org/ns/oa#", "as": "http://www.w3.org/ns/activitystreams#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "xsd": "http://www.w3.org/2001/XMLSchema#",
    "id": {"@id": "@id", "@type": "@id"}, "type": {"@id": "@type", "@type": "@id"},
    "Annotation": "oa:Annotation", "AnnotationCollection": "as:OrderedCollection",
    "AnnotationPage": "as:OrderedCollectionPage", "identifying": "oa:identifying",
    "TextQuoteSelector": "oa:TextQuoteSelector", "TextPositionSelector": "oa:TextPositionSelector",
    "body": {"@type": "@id", "@id": "oa:hasBody"}, "target": {"@type": "@id", "@id": "oa:hasTarget"},
    "source": {"@type": "@id", "@id": "oa:hasSource"},
    "selector": {"@type": "@id", "@id": "oa:hasSelector"},
    "motivation": {"@type": "@vocab", "@id": "oa:motivatedBy"},
    "exact": "oa:exact", "prefix": "oa:prefix", "suffix": "oa:suffix",
    "start": {"@id": "oa:start", "@type": "xsd:nonNegativeInteger"},
    "end": {"@id": "oa:end", "@type": "xsd:nonNegativeInteger"},
    "label": "rdfs:label", "total": {"@id": "as:totalItems", "@type": "xsd:nonNegativeInteger"},
    "first": {"@type": "@id", "@id": "as:first"},
    "items": {"@type": "@id", "@id": "as:items", "@container": "@list"},
    "startIndex": {"@id": "as:startIndex", "@type": "xsd:nonNegativeInteger"},
}
TEXT = "\U0001F1EB\U0001F1F7 Macron met Putin in Paris; NATO was not there."   # a flag emoji first


def web_annotation_graph(document: dict) -> Graph:
    """Parse a Web Annotation document with rdflib's JSON-LD parser (published context inlined)."""
    assert document["@context"][0] == "http://www.w3.org/ns/anno.jsonld"
    offline = dict(document, **{"@context": [ANNO_CONTEXT, *document["@context"][1:]]})
    return Graph().parse(data=json.dumps(offline), format="json-ld")


@pytest.fixture(scope="module")
def result(news_kb):
    return link(TEXT, news_kb).to_dict()


def test_web_annotation_has_one_annotation_per_linked_mention_with_both_selectors(result):
    document = annotation_collection(result, [TEXT], "https://news.example/a1", "https://api.example/v1/jobs/x")
    graph = web_annotation_graph(document)
    annotations = set(graph.subjects(RDF.type, OA.Annotation))
    linked = [m for m in result["mentions"] if m["qid"]]
    assert len(annotations) == len(linked) == document["total"] == 4
    for mention in linked:
        [annotation] = graph.subjects(OA.hasBody, WD[mention["qid"]])
        assert graph.value(annotation, OA.motivatedBy) == OA.identifying
        target = graph.value(annotation, OA.hasTarget)
        assert graph.value(target, OA.hasSource) == URIRef("https://news.example/a1")
        selectors = {graph.value(s, RDF.type): s for s in graph.objects(target, OA.hasSelector)}
        quote, position = selectors[OA.TextQuoteSelector], selectors[OA.TextPositionSelector]
        start, end = int(graph.value(position, OA.start)), int(graph.value(position, OA.end))
        # code points: the flag is two code points (four UTF-16 units) before every name
        assert TEXT[start:end] == str(graph.value(quote, OA.exact)) == mention["text"]
        assert TEXT[:start].endswith(str(graph.value(quote, OA.prefix)))
        assert TEXT[end:].startswith(str(graph.value(quote, OA.suffix)))
        confidence = graph.value(annotation, ITSRDF.taConfidence)
        assert float(confidence) == mention["confidence"] and 0 < float(confidence) <= 1


def test_a_segment_mention_is_anchored_by_its_quote_within_its_segment():
    result = {"mentions": [{"start": 0, "end": 6, "text": "Macron", "qid": "Q3052772",
                            "confidence": 0.9, "segment": 1}]}
    document = annotation_collection(result, ["Headline", "Macron spoke."], "urn:x:doc", "urn:x:job")
    [annotation] = document["first"]["items"]
    [quote] = annotation["target"]["selector"]
    assert quote == {"type": "TextQuoteSelector", "exact": "Macron", "prefix": "", "suffix": " spoke."}


def test_nif_document_of_a_json_request_reads_back_with_rdflib(result):
    body = nif_format.turtle(nif_format.document(result, [TEXT], "https://news.example/a1#top"))
    graph = Graph().parse(data=body.decode(), format="turtle")
    [context] = graph.subjects(RDF.type, NIF.Context)
    assert context == URIRef(f"https://news.example/a1#char=0,{len(TEXT)}")
    assert str(graph.value(context, NIF.isString)) == TEXT
    phrases = set(graph.subjects(RDF.type, NIF.Phrase))
    assert len(phrases) == len(result["mentions"])
    for phrase in phrases:
        begin, end = int(graph.value(phrase, NIF.beginIndex)), int(graph.value(phrase, NIF.endIndex))
        assert phrase == URIRef(f"https://news.example/a1#char={begin},{end}")
        assert TEXT[begin:end] == str(graph.value(phrase, NIF.anchorOf))
        assert graph.value(phrase, NIF.referenceContext) == context
    assert graph.value(predicate=ITSRDF.taIdentRef, object=WD.Q7184) is not None


def test_a_nil_mention_in_nif_points_into_gerbils_not_in_wiki_namespace():
    iri = nif_format.entity_iri({"qid": None, "text": "Zorblax Industries"})
    assert iri == URIRef("http://aksw.org/notInWiki/Zorblax_Industries")


def test_nif_phrases_counted_in_utf16_units_are_read_as_code_points():
    text = "\U0001F600 Macron"          # Java's String counts the emoji as two units
    turtle = f"""
        @prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        <http://d/1#char=0,9> a nif:Context ; nif:isString "{text}" .
        <http://d/1#char=3,9> a nif:Phrase ; nif:referenceContext <http://d/1#char=0,9> ;
            nif:anchorOf "Macron" ; nif:beginIndex 3 ; nif:endIndex 9 .
    """
    _graph, [context] = nif_format.parse_nif(turtle.encode())
    assert list(context.phrases) == [(2, 8)] and text[2:8] == "Macron"


@pytest.mark.parametrize("turtle, code", [
    ("<a> <b> .", "malformed_turtle"),
    ("<http://d/1> <http://x/p> 'no context here' .", "invalid_nif"),
    ("""@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        <http://d/1#char=0,5> a nif:Context .""", "invalid_nif"),
    ("""@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        <http://d/1#char=0,5> a nif:Context ; nif:isString "Paris" .
        <http://d/1#char=0,3> a nif:Phrase ; nif:referenceContext <http://d/1#char=0,5> ;
            nif:anchorOf "Rome" ; nif:beginIndex 0 ; nif:endIndex 3 .""", "invalid_nif"),
    ("""@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        <http://d/1#char=0,5> a nif:Context ; nif:isString "Paris" .
        <http://d/1#char=0,9> a nif:Phrase ; nif:referenceContext <http://d/1#char=0,5> ;
            nif:beginIndex 0 ; nif:endIndex 9 .""", "invalid_nif"),
    ("""@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        <http://d/1#char=0,9> a nif:Context ; nif:isString "In  Paris" .
        <http://d/1#char=2,3> a nif:Phrase ; nif:referenceContext <http://d/1#char=0,9> ;
            nif:beginIndex 2 ; nif:endIndex 3 .""", "invalid_nif"),
    ("""@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        <http://d/1#char=0,5> a nif:Context ; nif:isString "Paris" .
        <http://d/1#char=0,5x> a nif:Phrase ; nif:referenceContext <http://d/2#char=0,5> ;
            nif:beginIndex 0 ; nif:endIndex 5 .""", "invalid_nif"),
    (b"\xff\xfe<a> <b> <c> .", "invalid_encoding"),
])
def test_a_nif_body_that_cannot_be_linked_says_why(turtle, code):
    with pytest.raises(errors.InvalidInput) as caught:
        nif_format.parse_nif(turtle if isinstance(turtle, bytes) else turtle.encode())
    assert caught.value.code == code


@pytest.mark.parametrize("format_param, accept, natural, expected", [
    (None, None, Format.json, (Format.json, "application/json")),
    (None, "*/*", Format.json, (Format.json, "application/json")),
    (None, "application/ld+json", Format.json,
     (Format.webannotation, 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"')),
    (None, "text/turtle", Format.json, (Format.nif, "text/turtle; charset=utf-8")),
    (None, "application/x-turtle", Format.nif, (Format.nif, "application/x-turtle; charset=utf-8")),
    (None, "application/json;q=0.5, text/turtle", Format.json, (Format.nif, "text/turtle; charset=utf-8")),
    (None, "text/html, application/*;q=0.8", Format.json, (Format.json, "application/json")),
    (None, "*/*", Format.nif, (Format.nif, "text/turtle; charset=utf-8")),
    ("nif", "application/json", Format.json, (Format.nif, "text/turtle; charset=utf-8")),
    ("WebAnnotation", None, Format.json,
     (Format.webannotation, 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"')),
])
def test_format_and_accept_pick_the_answer(format_param, accept, natural, expected):
    assert negotiate(format_param, accept, natural) == expected


def test_an_unknown_format_is_invalid_input_and_an_unmet_accept_not_acceptable():
    with pytest.raises(errors.InvalidInput) as bad_format:
        negotiate("xml", None)
    assert bad_format.value.code == "invalid_input" and bad_format.value.details == {"field": "format"}
    with pytest.raises(errors.NotAcceptable):
        negotiate(None, "application/xml, text/html")
    with pytest.raises(errors.NotAcceptable):
        negotiate(None, "application/json;q=0, */*;q=0")


@pytest.mark.parametrize("source", ["news.example/a1", "https://x/a b", "http://x/<>", "x" * 3000])
def test_a_source_must_be_an_absolute_iri(source):
    with pytest.raises(errors.InvalidInput):
        parse_source(source)


def test_nif_output_keeps_every_triple_it_was_sent():
    sent = """
        @prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        @prefix dc: <http://purl.org/dc/terms/> .
        <http://d/1#char=0,13> a nif:Context ; nif:isString "Paris is big." ; dc:source <http://src/> .
    """
    graph, [context] = nif_format.parse_nif(sent.encode())
    nif_format.annotate(graph, context, {"mentions": [
        {"start": 0, "end": 5, "text": "Paris", "qid": "Q90", "confidence": 0.9}]})
    back = Graph().parse(data=nif_format.turtle(graph).decode(), format="turtle")
    assert set(Graph().parse(data=sent, format="turtle")) <= set(back)
    [phrase] = back.subjects(RDF.type, NIF.Phrase)
    assert phrase == URIRef("http://d/1#char=0,5")
    assert back.value(phrase, ITSRDF.taIdentRef) == WD.Q90
    assert back.value(phrase, NIF.anchorOf) == Literal("Paris", datatype=URIRef("http://www.w3.org/2001/XMLSchema#string"))
