def test_healthz_answers_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


def test_readyz_is_unavailable_when_redis_is_down(client, fake_redis_server):
    fake_redis_server.connected = False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["error"] == "unavailable"


def test_unknown_machine_route_answers_json(client):
    response = client.get("/admin/nothing-here")
    assert response.status_code == 404
    assert set(response.get_json()) == {"error", "message"}
