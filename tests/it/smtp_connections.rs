//! Mail over SMTP at a test suite's pace, through the real binary and the sink's real socket:
//! a connection carries mail after mail with RSET in between, at most four are open at once,
//! mails to one recipient keep their order, a connection the relay drops is replaced without
//! losing or repeating a mail, and the connections are closed (QUIT) once nothing is due.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::smtp_sink::{Behaviour, Received, SmtpSink};
use crate::support::{mx_invite, Server};

const MAILS: usize = 40;
/// The most connections the sender opens to the relay at once.
const BOUND: usize = 4;

fn start_with(sink: &SmtpSink) -> Server {
    Server::builder()
        .arg("--mail")
        .arg(format!("smtp://127.0.0.1:{}?tls=none", sink.port))
        .start()
}

/// `MAILS` invitations, one after another, each to a recipient of its own.
fn invite_all(server: &Server, tag: &str) -> Vec<String> {
    (0..MAILS)
        .map(|i| {
            let to = format!("{tag}-{i}@example.com");
            assert_eq!(mx_invite(server, &to).status, 200);
            to
        })
        .collect()
}

/// The outbox, oldest first: (status, attempts) of each mail.
fn outbox(server: &Server) -> Vec<(String, i64)> {
    server
        .db()
        .rows(
            "SELECT status, attempts FROM mail_outbox ORDER BY id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// Waits (at most 30 s) until every mail of the outbox is sent; returns the outbox.
fn wait_all_sent(server: &Server) -> Vec<(String, i64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = outbox(server);
        if rows.iter().all(|(status, _)| status == "sent") || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that each of `recipients` got exactly one mail, and nobody else any.
fn assert_each_got_one(got: &[Received], recipients: &[String]) {
    let mut per_recipient: HashMap<&str, usize> = HashMap::new();
    for mail in got {
        for to in &mail.to {
            *per_recipient.entry(to.as_str()).or_default() += 1;
        }
    }
    for to in recipients {
        assert_eq!(per_recipient.remove(to.as_str()), Some(1), "mails to {to}");
    }
    assert!(
        per_recipient.is_empty(),
        "unexpected mails: {per_recipient:?}"
    );
}

/// The outbox row of a mail, from its `Message-ID: <outbox-ID.TAG@domain>`.
fn outbox_id(mail: &Received) -> i64 {
    let at = mail.data.find("<outbox-").expect("a Message-ID") + "<outbox-".len();
    let digits: String = mail.data[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn mail_after_mail_goes_over_few_connections_which_close_once_nothing_is_due() {
    let sink = SmtpSink::start(0);
    let server = start_with(&sink);
    let recipients = invite_all(&server, "reuse");
    let got = sink.wait_for(MAILS, Duration::from_secs(20));
    let rows = wait_all_sent(&server);
    assert_each_got_one(&got, &recipients);
    assert!(
        rows.iter().all(|row| row == &("sent".into(), 1)),
        "{rows:?}"
    );

    let counts = sink.counts();
    assert!(
        counts.connections * 4 <= MAILS,
        "{MAILS} mails over {} connections",
        counts.connections
    );
    assert_eq!(
        counts.rsets + counts.connections,
        MAILS,
        "every mail but a connection's first follows an RSET: {counts:?}"
    );
    assert!(counts.most_open <= BOUND, "{counts:?}");

    let closed = sink.wait_for_counts(Duration::from_secs(15), |c| c.open == 0);
    assert_eq!(closed.open, 0, "connections left open: {closed:?}");
    assert_eq!(closed.quits, closed.connections, "each closed with QUIT");
    assert_eq!(closed.connections, counts.connections, "{closed:?}");
}

#[test]
fn at_most_four_mails_go_at_once_and_mails_to_one_recipient_keep_their_order() {
    // A relay that takes its time over each mail: mail queues up behind it.
    let sink = SmtpSink::behaving(
        0,
        Behaviour {
            data_reply_delay: Duration::from_millis(40),
            ..Behaviour::default()
        },
    );
    let server = start_with(&sink);
    const AGAIN: &str = "again@example.com";
    let mut recipients = Vec::new();
    for i in 0..MAILS / 2 {
        // Every other mail is a re-invitation of one client, each with a new link.
        assert_eq!(mx_invite(&server, AGAIN).status, 200);
        let to = format!("order-{i}@example.com");
        assert_eq!(mx_invite(&server, &to).status, 200);
        recipients.push(to);
    }
    let got = sink.wait_for(MAILS, Duration::from_secs(30));
    assert_eq!(got.len(), MAILS);
    wait_all_sent(&server);

    let counts = sink.counts();
    assert!(counts.most_open <= BOUND, "{counts:?}");
    assert!(
        counts.most_open >= 2,
        "queued mail goes on several connections at once: {counts:?}"
    );
    let again: Vec<i64> = got
        .iter()
        .filter(|m| m.to == vec![AGAIN.to_string()])
        .map(outbox_id)
        .collect();
    assert_eq!(again.len(), MAILS / 2);
    assert!(
        again.windows(2).all(|w| w[0] < w[1]),
        "the re-invitations arrived out of order: {again:?}"
    );
    let others: Vec<&Received> = got.iter().filter(|m| m.to[0] != AGAIN).collect();
    assert_each_got_one(
        &others.into_iter().cloned().collect::<Vec<_>>(),
        &recipients,
    );
}

#[test]
fn a_connection_the_relay_drops_mid_mail_is_replaced_and_no_mail_is_lost_or_repeated() {
    // Hangs up at every seventh MAIL FROM: the mail was not accepted, and goes again.
    let sink = SmtpSink::behaving(
        0,
        Behaviour {
            hang_up_at_every_nth_mail: Some(7),
            ..Behaviour::default()
        },
    );
    let server = start_with(&sink);
    let recipients = invite_all(&server, "dropped");
    let got = sink.wait_for(MAILS, Duration::from_secs(30));
    let rows = wait_all_sent(&server);
    assert_each_got_one(&got, &recipients);

    let counts = sink.counts();
    assert!(counts.hang_ups >= MAILS / 7, "{counts:?}");
    assert!(
        counts.connections > counts.hang_ups,
        "a new connection after each hang-up: {counts:?}"
    );
    let failed_attempts: i64 = rows.iter().map(|(_, attempts)| attempts - 1).sum();
    assert_eq!(
        failed_attempts as usize, counts.hang_ups,
        "each hang-up cost its mail one attempt: {rows:?}"
    );
    assert!(rows.iter().all(|(status, _)| status == "sent"), "{rows:?}");
}

#[test]
fn a_connection_the_relay_closed_between_mails_is_replaced_without_a_failed_attempt() {
    // Closes each connection after its third mail, as a relay limiting a session's mails.
    let sink = SmtpSink::behaving(
        0,
        Behaviour {
            mails_per_connection: Some(3),
            ..Behaviour::default()
        },
    );
    let server = start_with(&sink);
    let recipients = invite_all(&server, "closed");
    let got = sink.wait_for(MAILS, Duration::from_secs(30));
    let rows = wait_all_sent(&server);
    assert_each_got_one(&got, &recipients);
    assert!(
        rows.iter().all(|row| row == &("sent".into(), 1)),
        "the closed connection was noticed before a mail went on it: {rows:?}"
    );
    assert!(
        sink.counts().connections >= MAILS / 3,
        "{:?}",
        sink.counts()
    );
}
