//! ShieldConex (seed 001) against the real binary.

use crate::support::Server;

#[test]
fn unknown_paths_get_the_vendor_404_body() {
    let server = Server::start();
    let reply = server.get("/shieldconex/api/v1/nothing", &[]);
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["errorCode"], 7404);
}
