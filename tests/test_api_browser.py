"""What a browser extension needs: CORS (preflight included) and optional API keys."""
from __future__ import annotations

EXTENSION = "chrome-extension://abcdefghijklmnop"


def test_cors_is_off_by_default(http, api):
    response = http.get(f"{api.url}/v1/lookup?mention=NATO", headers={"Origin": EXTENSION})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_allowed_origin_can_preflight_and_read_responses(http, redis_server, start_api):
    api = start_api(REDIS_URL=redis_server.url,
                    FACTLINK_CORS_ORIGINS=f"https://news.example.org, {EXTENSION}")
    preflight = http.options(f"{api.url}/v1/annotate", headers={
        "Origin": EXTENSION, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-api-key"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == EXTENSION
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type, x-api-key"
    assert preflight.headers["Vary"] == "Origin"

    card = http.get(f"{api.url}/v1/entities/Q7184", headers={"Origin": EXTENSION})
    assert card.headers["Access-Control-Allow-Origin"] == EXTENSION
    assert "ETag" in card.headers["Access-Control-Expose-Headers"]
    error = http.get(f"{api.url}/v1/entities/nope", headers={"Origin": EXTENSION})
    assert error.status_code == 400
    assert error.headers["Access-Control-Allow-Origin"] == EXTENSION   # errors are readable too

    stranger = http.get(f"{api.url}/v1/entities/Q7184", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_any_origin(http, redis_server, start_api):
    api = start_api(REDIS_URL=redis_server.url, FACTLINK_CORS_ORIGINS="*")
    response = http.get(f"{api.url}/v1/lookup?mention=NATO", headers={"Origin": EXTENSION})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_api_keys_when_configured(http, redis_server, start_api):
    api = start_api(REDIS_URL=redis_server.url, FACTLINK_API_KEYS="key-one,key-two",
                    FACTLINK_CORS_ORIGINS=EXTENSION)
    url = f"{api.url}/v1/lookup?mention=NATO"
    missing = http.get(url)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    wrong = http.get(url, headers={"X-API-Key": "key-three"})
    assert wrong.status_code == 401
    assert http.get(url, headers={"X-API-Key": "key-two"}).status_code == 200
    # probes, scrapers and preflights never carry keys
    for path in ("/healthz", "/metrics", "/v1/openapi.json"):
        assert http.get(api.url + path).status_code == 200
    preflight = http.options(url, headers={"Origin": EXTENSION,
                                           "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204
    assert http.get(url, headers={"Origin": EXTENSION}).headers[
        "Access-Control-Allow-Origin"] == EXTENSION    # the 401 is readable by the extension
