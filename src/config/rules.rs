//! Rules between properties, as the Java producer 4.x applies them after parsing
//! (`ProducerConfig.postProcessParsedConfig`). Each rule reads the parsed values and either
//! adjusts them (logging why) or refuses the configuration, naming the property to change.

use super::parse::{Resolved, Value};
use crate::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counter behind generated client ids (`producer-1`, `producer-2`, ...), as Java's.
static CLIENT_ID_SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// Applies every rule, in Java's order where order matters.
pub(crate) fn apply(v: &mut Resolved) -> Result<(), Error> {
    delivery_timeout_covers_linger_and_request(v)?;
    backoff_caps(v);
    idempotence(v)?;
    transactions_need_idempotence(v)?;
    client_id(v);
    canonical_dns_lookup(v);
    Ok(())
}

/// `client.dns.lookup=resolve_canonical_bootstrap_servers_only` is accepted and connects as
/// `use_all_dns_ips` does: Java resolves bootstrap names to canonical host names first, which
/// only Kerberos (GSSAPI, not implemented) needs. Said once, at construction.
fn canonical_dns_lookup(v: &Resolved) {
    if v.text("client.dns.lookup") == Some("resolve_canonical_bootstrap_servers_only") {
        log::info!(
            "client.dns.lookup=resolve_canonical_bootstrap_servers_only connects as \
             use_all_dns_ips: canonical host names only matter for Kerberos (GSSAPI), which is \
             not implemented"
        );
    }
}

/// `delivery.timeout.ms >= linger.ms + request.timeout.ms` (Java compares int millis): an
/// error when set explicitly; the default is raised to the sum.
fn delivery_timeout_covers_linger_and_request(v: &mut Resolved) -> Result<(), Error> {
    const DELIVERY: &str = "delivery.timeout.ms";
    let floor_ms = (v.num("linger.ms") as i128 + v.num("request.timeout.ms") as i128)
        .min(i32::MAX.into()) as i64;
    let delivery = v.num(DELIVERY);
    if delivery >= floor_ms {
        return Ok(());
    }
    if v.explicit(DELIVERY) {
        return Err(Error::config(
            DELIVERY,
            format!("must be at least linger.ms + request.timeout.ms ({floor_ms} ms), got {delivery} ms"),
        ));
    }
    log::warn!("delivery.timeout.ms raised to linger.ms + request.timeout.ms = {floor_ms} ms");
    v.set(DELIVERY, Value::Num(floor_ms));
    Ok(())
}

/// Java's `ExponentialBackoff` starts at `min(base, max)`: a max below the base gives a
/// constant backoff of the max. Setting `reconnect.backoff.ms` alone disables exponential
/// reconnect backoff (`postProcessReconnectBackoffConfigs`). The connection setup timeout
/// grows the same way.
fn backoff_caps(v: &mut Resolved) {
    let (retry, retry_max) = (v.ms("retry.backoff.ms"), v.ms("retry.backoff.max.ms"));
    if retry > retry_max {
        log::warn!(
            "retry.backoff.ms ({retry:?}) > retry.backoff.max.ms ({retry_max:?}): static \
             backoff of {retry_max:?}"
        );
        v.set_ms("retry.backoff.ms", retry_max);
    }

    let reconnect = v.ms("reconnect.backoff.ms");
    if v.explicit("reconnect.backoff.ms") && !v.explicit("reconnect.backoff.max.ms") {
        log::info!(
            "exponential reconnect backoff disabled: reconnect.backoff.ms is set, \
             reconnect.backoff.max.ms is not"
        );
        v.set_ms("reconnect.backoff.max.ms", reconnect);
    }
    let reconnect_max = v.ms("reconnect.backoff.max.ms");
    v.set_ms("reconnect.backoff.ms", reconnect.min(reconnect_max));

    let (setup, setup_max) = (
        v.ms("socket.connection.setup.timeout.ms"),
        v.ms("socket.connection.setup.timeout.max.ms"),
    );
    if setup > setup_max {
        log::warn!(
            "socket.connection.setup.timeout.ms > socket.connection.setup.timeout.max.ms: \
             static connection setup timeout of {setup_max:?}"
        );
        v.set_ms("socket.connection.setup.timeout.ms", setup_max);
    }
}

/// Idempotence (Java 4.4's `postProcessAndValidateIdempotenceConfigs`) needs `acks=all` and
/// `retries > 0`: explicitly enabled, a conflict is an error; enabled by default, a conflict
/// turns it off. `max.in.flight.requests.per.connection > 5` is an error in both cases.
fn idempotence(v: &mut Resolved) -> Result<(), Error> {
    const ENABLE: &str = "enable.idempotence";
    const IN_FLIGHT: &str = "max.in.flight.requests.per.connection";
    if !v.bool(ENABLE) {
        return Ok(());
    }
    let acks_all = matches!(v.text("acks"), Some("all" | "-1"));
    let conflicts = [
        (v.num("retries") == 0, "retries", "must be greater than 0"),
        (!acks_all, "acks", "must be all (or -1)"),
    ];
    let mut disable = false;
    for (conflict, property, what) in conflicts {
        if !conflict {
            continue;
        }
        if v.explicit(ENABLE) {
            return Err(Error::config(
                property,
                format!("{what} when enable.idempotence is true"),
            ));
        }
        log::info!("idempotence disabled because {property} {what} for it");
        disable = true;
    }
    // Since Kafka 4.0 this one is an error even when idempotence is only the default.
    let in_flight = v.num(IN_FLIGHT);
    if in_flight > 5 {
        return Err(Error::config(
            IN_FLIGHT,
            format!(
                "must be at most 5 when enable.idempotence is true (the default), got \
                 {in_flight}; set enable.idempotence=false to allow more"
            ),
        ));
    }
    if disable {
        v.set(ENABLE, Value::Bool(false));
    }
    Ok(())
}

/// A `transactional.id` needs idempotence (Java checks it after the idempotence rules, which
/// may have turned it off): explicitly disabled, or turned off by a conflicting setting, it is
/// an error.
fn transactions_need_idempotence(v: &Resolved) -> Result<(), Error> {
    if v.text("transactional.id") == Some("") {
        return Err(Error::config("transactional.id", "must not be empty"));
    }
    if v.text("transactional.id").is_none() || v.bool("enable.idempotence") {
        return Ok(());
    }
    Err(Error::config(
        "enable.idempotence",
        "cannot set a transactional.id without also enabling idempotence (it is false, or \
         acks/retries turned it off)",
    ))
}

/// An empty `client.id` becomes `producer-N`, as Java does.
fn client_id(v: &mut Resolved) {
    if v.text("client.id").is_some_and(|id| !id.is_empty()) {
        return;
    }
    let n = CLIENT_ID_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    v.set("client.id", Value::Text(format!("producer-{n}")));
}
