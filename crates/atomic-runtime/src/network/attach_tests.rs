use super::*;
use crate::network::NewNetwork;
use crate::network::ports::parse_publish;

fn network(dns: bool) -> Network {
    let dir = tempfile::tempdir().unwrap();
    let nets = Networks::new(dir.path());
    if dns {
        nets.create(&NewNetwork {
            name: "user".into(),
            ..NewNetwork::default()
        })
        .unwrap()
    } else {
        nets.ensure_default("10.99.0.0/24".parse().unwrap())
            .unwrap()
    }
}

#[test]
fn the_driver_is_the_preferred_one_unless_names_are_resolved_or_the_network_has_another() {
    use NetworkDriver::{Builtin, Netavark};
    let (bridge, user) = (network(false), network(true));
    assert_eq!(NetworkDriver::choose(Builtin, &bridge, None), Builtin);
    assert_eq!(NetworkDriver::choose(Netavark, &bridge, None), Netavark);
    // aardvark-dns comes with netavark only.
    assert_eq!(NetworkDriver::choose(Builtin, &user, None), Netavark);
    // A network's containers share their driver, whatever atomic.conf says now.
    assert_eq!(
        NetworkDriver::choose(Builtin, &bridge, Some(Netavark)),
        Netavark
    );
    assert_eq!(
        NetworkDriver::choose(Netavark, &bridge, Some(Builtin)),
        Builtin
    );
}

#[test]
fn driver_names_and_records_made_before_the_builtin_driver() {
    assert_eq!(
        "builtin".parse::<NetworkDriver>().unwrap(),
        NetworkDriver::Builtin
    );
    assert_eq!(
        "netavark".parse::<NetworkDriver>().unwrap(),
        NetworkDriver::Netavark
    );
    let err = "cni".parse::<NetworkDriver>().unwrap_err().to_string();
    assert!(err.contains("builtin or netavark"), "{err}");
    // A record without the field was set up by netavark.
    let old: Attachment = serde_json::from_str(r#"{"endpoints": [], "ports": []}"#).unwrap();
    assert_eq!(old.driver, NetworkDriver::Netavark);
    let new = Attachment {
        driver: NetworkDriver::Builtin,
        ..old
    };
    let text = serde_json::to_string(&new).unwrap();
    assert!(text.contains(r#""driver":"builtin""#), "{text}");
}

#[test]
fn a_plan_on_the_default_network_takes_the_preferred_driver_an_address_and_ports() {
    if !rustix::process::geteuid().is_root()
        || atomic_exec::find_program("iptables-restore").is_none()
    {
        eprintln!("SKIP: needs root and iptables-restore");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nets = Networks::new(dir.path());
    let mut request = RunRequest::default();
    request.net.publish = vec![parse_publish("127.0.0.1:18179:80").unwrap()];
    let id = "a".repeat(64);
    let plan_with = |in_use: Option<NetworkDriver>| {
        plan(
            &nets,
            &PlanInput {
                id: &id,
                request: &request,
                image_exposed: &[],
                default_subnet: "10.99.1.0/24".parse().unwrap(),
                live: &|_| false,
                driver: NetworkDriver::Builtin,
                driver_in_use: &|_| in_use,
            },
        )
        .unwrap()
        .unwrap()
    };
    let att = plan_with(None);
    assert_eq!(att.driver, NetworkDriver::Builtin);
    assert_eq!(att.endpoints[0].ip.to_string(), "10.99.1.2");
    assert_eq!(att.endpoints[0].gateway.unwrap().to_string(), "10.99.1.1");
    assert_eq!(att.ports[0].short(), "127.0.0.1:18179->80/tcp");
    nets.release(&id).unwrap();
    if Netavark::find(&nets.netavark_dir()).is_ok() {
        assert_eq!(
            plan_with(Some(NetworkDriver::Netavark)).driver,
            NetworkDriver::Netavark
        );
    }
}
