//! Nueve09 (seed 002) against the real binary.

use crate::support::Server;

#[test]
fn unknown_paths_get_the_vendor_envelope() {
    let server = Server::start();
    let reply = server.get("/nueve09/nothing", &[]);
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["success"], false);
}
