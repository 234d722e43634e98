//! The baseline of `bench/startup.py`: a bare tiny_http server that binds a free port,
//! prints the same readiness line as Clientele, and answers 200 to everything. Clientele's
//! figures are reported as ratios to this one, measured in the same run.

fn main() {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("binding a free port");
    println!("listening on http://{}", server.server_addr());
    for request in server.incoming_requests() {
        let _ = request.respond(tiny_http::Response::from_string("{\"status\":\"ok\"}"));
    }
}
