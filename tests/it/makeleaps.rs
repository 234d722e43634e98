//! MakeLeaps (seed 003) against the real binary.

use crate::support::Server;

#[test]
fn unknown_paths_get_the_drf_404_in_the_envelope() {
    let server = Server::start();
    let reply = server.get("/makeleaps/nothing/", &[]);
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["meta"]["status"], 404);
}
