"""POST /v1/annotate in the formats of the field, through the real app, Redis and worker:
Web Annotation and NIF chosen by ?format= or Accept, a NIF document sent the way GERBIL sends
it, the type filter, and the errors a client of each gets."""
from __future__ import annotations

import pytest
from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from test_formats import web_annotation_graph

from service import shapes

pytestmark = pytest.mark.integration

NIF = Namespace("http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#")
ITSRDF = Namespace("http://www.w3.org/2005/11/its/rdf#")
OA = Namespace("http://www.w3.org/ns/oa#")
WD = Namespace("http://www.wikidata.org/entity/")
TEXT = "Macron met Putin in Paris to talk about NATO and Ukraine."

# A request as GERBIL's NIF web-service client writes it for the D2KB task: one context, two
# phrases, typed literals, GERBIL's request IRIs.
GERBIL_TEXT = "Emmanuel Macron flew to Moscow, where Putin said NATO must stop."
GERBIL_REQUEST = """@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix itsrdf: <http://www.w3.org/2005/11/its/rdf#> .

<http://www.aksw.org/gerbil/NifWebService/request_7#char=0,64>
    a nif:RFC5147String , nif:String , nif:Context ;
    nif:beginIndex "0"^^xsd:nonNegativeInteger ;
    nif:endIndex "64"^^xsd:nonNegativeInteger ;
    nif:isString "Emmanuel Macron flew to Moscow, where Putin said NATO must stop."^^xsd:string .

<http://www.aksw.org/gerbil/NifWebService/request_7#char=0,15>
    a nif:RFC5147String , nif:String , nif:Phrase ;
    nif:anchorOf "Emmanuel Macron"^^xsd:string ;
    nif:beginIndex "0"^^xsd:nonNegativeInteger ;
    nif:endIndex "15"^^xsd:nonNegativeInteger ;
    nif:referenceContext <http://www.aksw.org/gerbil/NifWebService/request_7#char=0,64> .

<http://www.aksw.org/gerbil/NifWebService/request_7#char=38,43>
    a nif:RFC5147String , nif:String , nif:Phrase ;
    nif:anchorOf "Putin"^^xsd:string ;
    nif:beginIndex "38"^^xsd:nonNegativeInteger ;
    nif:endIndex "43"^^xsd:nonNegativeInteger ;
    nif:referenceContext <http://www.aksw.org/gerbil/NifWebService/request_7#char=0,64> .
"""
REQUEST_IRI = "http://www.aksw.org/gerbil/NifWebService/request_7"


def annotate(http, api, query: str = "", headers=None, **body):
    return http.post(f"{api.url}/v1/annotate{query}", json=body, headers=headers or {})


def send_nif(http, api, turtle: str, content_type="application/x-turtle", **headers):
    return http.post(f"{api.url}/v1/annotate", data=turtle.encode(),
                     headers={"Content-Type": content_type, **headers})


def test_gerbils_d2kb_request_comes_back_with_the_two_phrases_disambiguated(http, api):
    assert GERBIL_TEXT[0:15] == "Emmanuel Macron" and GERBIL_TEXT[38:43] == "Putin"
    response = send_nif(http, api, GERBIL_REQUEST, Accept="application/x-turtle")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/x-turtle")
    back = Graph().parse(data=response.text, format="turtle")
    assert set(Graph().parse(data=GERBIL_REQUEST, format="turtle")) <= set(back)   # nothing lost
    phrases = set(back.subjects(RDF.type, NIF.Phrase))
    assert phrases == {URIRef(f"{REQUEST_IRI}#char=0,15"), URIRef(f"{REQUEST_IRI}#char=38,43")}
    assert back.value(URIRef(f"{REQUEST_IRI}#char=0,15"), ITSRDF.taIdentRef) == WD.Q3052772
    assert back.value(URIRef(f"{REQUEST_IRI}#char=38,43"), ITSRDF.taIdentRef) == WD.Q7747
    assert WD.Q5 in set(back.objects(URIRef(f"{REQUEST_IRI}#char=38,43"), ITSRDF.taClassRef))
    # given mentions are disambiguated, not re-spotted: Moscow and NATO were not asked for
    assert len(set(back.objects(None, ITSRDF.taIdentRef))) == 2
    # sent again, the document is answered from the cache, and the same
    again = send_nif(http, api, GERBIL_REQUEST, Accept="application/x-turtle")
    assert again.headers["X-Factlink-Cache"] == "hit"
    assert set(Graph().parse(data=again.text, format="turtle")) == set(back)


def test_a_nif_context_without_phrases_gets_the_names_found_in_it(http, api):
    context = f"{REQUEST_IRI.replace('_7', '_8')}#char=0,{len(TEXT)}"
    turtle = f"""@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        <{context}> a nif:Context ; nif:isString "{TEXT}" ."""
    response = send_nif(http, api, turtle, content_type="text/turtle")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/turtle")
    back = Graph().parse(data=response.text, format="turtle")
    links = {str(back.value(p, NIF.anchorOf)): back.value(p, ITSRDF.taIdentRef)
             for p in back.subjects(RDF.type, NIF.Phrase)}
    assert links == {"Macron": WD.Q3052772, "Putin": WD.Q7747, "Paris": WD.Q90,
                     "NATO": WD.Q7184, "Ukraine": WD.Q212}
    for phrase in back.subjects(RDF.type, NIF.Phrase):
        begin, end = int(back.value(phrase, NIF.beginIndex)), int(back.value(phrase, NIF.endIndex))
        assert TEXT[begin:end] == str(back.value(phrase, NIF.anchorOf))
        assert back.value(phrase, NIF.referenceContext) == URIRef(context)


def test_a_given_phrase_the_kb_does_not_know_is_answered_as_not_in_wiki(http, api):
    text = "Zorblax Vantari met Putin."
    turtle = f"""@prefix nif: <http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#> .
        <http://d/nil#char=0,26> a nif:Context ; nif:isString "{text}" .
        <http://d/nil#char=0,15> a nif:Phrase ; nif:referenceContext <http://d/nil#char=0,26> ;
            nif:anchorOf "Zorblax Vantari" ; nif:beginIndex 0 ; nif:endIndex 15 .
        <http://d/nil#char=20,25> a nif:Phrase ; nif:referenceContext <http://d/nil#char=0,26> ;
            nif:anchorOf "Putin" ; nif:beginIndex 20 ; nif:endIndex 25 ."""
    response = send_nif(http, api, turtle)
    assert response.status_code == 200, response.text
    back = Graph().parse(data=response.text, format="turtle")
    assert back.value(URIRef("http://d/nil#char=0,15"), ITSRDF.taIdentRef) == \
        URIRef("http://aksw.org/notInWiki/Zorblax_Vantari")
    assert back.value(URIRef("http://d/nil#char=20,25"), ITSRDF.taIdentRef) == WD.Q7747


def test_web_annotation_by_query_or_accept_and_served_from_the_cache(http, api):
    text = "NATO leaders gathered in Paris while Macron waited."
    first = annotate(http, api, "?format=json", text=text)
    assert first.status_code == 200 and first.headers["X-Factlink-Cache"] == "miss"
    by_query = annotate(http, api, "?format=webannotation&source=https://news.example/nato", text=text)
    by_accept = annotate(http, api, headers={"Accept": "application/ld+json"}, text=text)
    for response in (by_query, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/ld+json")
        assert response.headers["X-Factlink-Cache"] == "hit"      # converted, not linked again
        assert response.headers["X-Factlink-Job"] == first.headers["X-Factlink-Job"]
    document = by_query.json()
    assert document["type"] == "AnnotationCollection"
    mentions = [m for m in first.json()["mentions"] if m["qid"]]
    assert [a["body"] for a in document["first"]["items"]] == [str(WD[m["qid"]]) for m in mentions]
    graph = web_annotation_graph(document)
    assert set(graph.objects(None, OA.hasSource)) == {URIRef("https://news.example/nato")}
    assert len(set(graph.subjects(RDF.type, OA.Annotation))) == len(mentions)
    # without ?source, the target is the job this service serves the result at
    [source] = {a["target"]["source"] for a in by_accept.json()["first"]["items"]}
    assert source == f"{api.url}{shapes.poll_path(first.headers['X-Factlink-Job'])}"


def test_nif_for_a_json_request_by_accept(http, api):
    response = annotate(http, api, headers={"Accept": "text/turtle"}, text=TEXT)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/turtle; charset=utf-8"
    graph = Graph().parse(data=response.text, format="turtle")
    [context] = graph.subjects(RDF.type, NIF.Context)
    assert graph.value(context, NIF.isString) == Literal(TEXT, datatype=XSD.string)
    assert graph.value(predicate=ITSRDF.taIdentRef, object=WD.Q7184) is not None


@pytest.mark.parametrize("query, headers, status, code", [
    ("?format=xml", {}, 400, "invalid_input"),
    ("", {"Accept": "application/xml"}, 406, "not_acceptable"),
    ("?format=nif&source=not-an-iri", {}, 400, "invalid_input"),
])
def test_a_format_the_service_cannot_give_is_a_clear_error(http, api, query, headers, status, code):
    response = annotate(http, api, query, headers=headers, text=TEXT)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("turtle, code", [
    ("@prefix nif: <http://nif#> . <a> nif:isString ", "malformed_turtle"),
    ("<http://d/1> <http://x/p> \"text without a context\" .", "invalid_nif"),
])
def test_a_nif_body_that_cannot_be_linked_is_400_with_its_code(http, api, turtle, code):
    response = send_nif(http, api, turtle)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_a_nif_request_asking_for_json_is_not_acceptable(http, api):
    response = send_nif(http, api, GERBIL_REQUEST, Accept="application/json")
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_the_type_filter_keeps_only_people_or_places(http, api):
    people = annotate(http, api, text=TEXT, options={"types": ["person"]})
    assert people.status_code == 200, people.text
    assert {m["text"]: m["qid"] for m in people.json()["mentions"]} == \
        {"Macron": "Q3052772", "Putin": "Q7747"}
    # a coarse class and any Wikidata class (NATO is an instance of military alliance, Q1127126)
    places = annotate(http, api, "?format=webannotation", text=TEXT,
                      options={"types": ["place", "Q1127126"]})
    assert sorted(a["body"] for a in places.json()["first"]["items"]) == \
        sorted(str(WD[qid]) for qid in ("Q7184", "Q212", "Q90"))


@pytest.mark.parametrize("types", [["animal"], ["Q12ab"], "person"])
def test_a_bad_type_filter_is_invalid_input(http, api, types):
    response = annotate(http, api, text=TEXT, options={"types": types})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert response.json()["error"]["details"] == {"field": "types"}


def test_openapi_documents_the_formats_and_the_type_filter(http, api):
    spec = http.get(f"{api.url}/v1/openapi.json").json()
    post = spec["paths"]["/v1/annotate"]["post"]
    assert {"application/json", "application/ld+json", "text/turtle"} <= post["responses"]["200"]["content"].keys()
    assert {"text/turtle", "application/x-turtle"} <= post["requestBody"]["content"].keys()
    assert {p["name"] for p in post["parameters"]} == {"format", "source"}
    assert "406" in post["responses"]
    types = post["requestBody"]["content"]["application/json"]["schema"]["properties"]["options"]["properties"]["types"]
    assert "organisation" in types["items"]["anyOf"][0]["enum"]


def test_a_segments_request_in_web_annotation_and_nif_anchors_each_mention_in_its_segment(http, api):
    segments = ["Macron in Paris", "Putin met him there."]
    web = annotate(http, api, "?format=webannotation&source=https://news.example/s", segments=segments)
    assert web.status_code == 200, web.text
    quotes = {a["body"]: a["target"]["selector"] for a in web.json()["first"]["items"]}
    assert quotes[str(WD.Q7747)] == [{"type": "TextQuoteSelector", "exact": "Putin", "prefix": "",
                                      "suffix": " met him there."}]
    turtle = annotate(http, api, "?format=nif&source=https://news.example/s", segments=segments)
    graph = Graph().parse(data=turtle.text, format="turtle")
    contexts = {str(graph.value(c, NIF.isString)): c for c in graph.subjects(RDF.type, NIF.Context)}
    assert contexts.keys() == set(segments)
    [putin] = graph.subjects(ITSRDF.taIdentRef, WD.Q7747)
    assert graph.value(putin, NIF.referenceContext) == contexts["Putin met him there."]
    assert (int(graph.value(putin, NIF.beginIndex)), int(graph.value(putin, NIF.endIndex))) == (0, 5)
