//! The v2 auth commands (`user`, `role`, `auth`) over `/v2/auth`, and password prompts as
//! speakeasy asks them (prompt on stdout, `stty -echo` on the terminal, a line from stdin).

use std::io::{Read, Write};

use super::cli::Flags;
use super::client::{Action, Client, V2Error, assert_status, go_unmarshal, request_at};
use super::gourl::{Url, join};
use super::http::Request;
use super::{Ctl, Exit, Outcome};

/// speakeasy's `Ask`: the prompt on stdout, echo off while a line is read from stdin.
pub fn ask(prompt: &str) -> Result<String, String> {
    let mut stdout = std::io::stdout();
    if !prompt.is_empty() {
        print!("{prompt}");
        let _ = stdout.flush();
    }
    let stty = |arg: &str| {
        let _ = std::process::Command::new("/bin/stty").arg(arg).status();
    };
    stty("-echo");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let mut stdin = std::io::stdin();
    let read = loop {
        match stdin.read(&mut byte) {
            Ok(0) => break Ok(()),
            Ok(_) if byte[0] == b'\n' => break Ok(()),
            Ok(_) => line.push(byte[0]),
            Err(e) => break Err(format!("failed during password entry: {e}")),
        }
    };
    stty("echo");
    println!();
    read?;
    let text = String::from_utf8_lossy(&line).into_owned();
    Ok(text.strip_suffix('\r').unwrap_or(&text).trim().to_owned())
}

/// etcdctl's `getUsernamePassword`: `user:password`, or `user` and a prompted password.
pub fn username_password(prompt: &str, flag: &str) -> Result<(String, String), String> {
    match flag.split_once(':') {
        Some((user, password)) => Ok((user.to_owned(), password.to_owned())),
        None => Ok((flag.to_owned(), ask(prompt)?)),
    }
}

/// A request under `/v2/auth`, with an optional JSON body.
struct AuthAction {
    method: &'static str,
    what: &'static str,
    name: String,
    body: Option<String>,
    json_header: bool,
}

impl Action for AuthAction {
    fn request(&self, ep: &Url) -> Request {
        let path = join(&[&ep.path, "/v2/auth", self.what, &self.name]);
        let content_type = (self.json_header || self.body.is_some()).then_some("application/json");
        request_at(ep, self.method, path, String::new(), content_type, self.body.clone().map(String::into_bytes))
    }
}

fn action(method: &'static str, what: &'static str, name: &str, body: Option<String>) -> AuthAction {
    AuthAction { method, what, name: name.to_owned(), body, json_header: false }
}

/// The `authError` of a refused request (its message), or the decoding error.
fn auth_error(body: &[u8]) -> V2Error {
    #[derive(serde::Deserialize)]
    struct AuthError {
        #[serde(default, alias = "Message")]
        message: String,
    }
    match go_unmarshal::<AuthError>(body, "client.authError") {
        Ok(e) => V2Error::text(e.message),
        Err(e) => V2Error::text(e),
    }
}

async fn exchange(client: &mut Client, action: &AuthAction, ok: &[u16]) -> Result<Vec<u8>, V2Error> {
    let response = client.request(action, false).await?;
    if assert_status(response.status, ok).is_err() {
        return Err(auth_error(&response.body));
    }
    Ok(response.body)
}

/// Go's `json.Marshal` of a `client.User` with a password.
fn user_json(user: &str, password: &str) -> String {
    let password = if password.is_empty() {
        String::new()
    } else {
        format!(",\"password\":\"{}\"", crate::print::json_escape(password))
    };
    format!("{{\"user\":\"{}\"{password},\"roles\":null}}", crate::print::json_escape(user))
}

fn json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{}\"", crate::print::json_escape(s))).collect();
    format!("[{}]", quoted.join(","))
}

/// A v2 user as the Go client decodes it.
#[derive(Debug, Default)]
struct User {
    user: String,
    roles: Vec<String>,
}

fn decode_user(body: &[u8]) -> Result<User, V2Error> {
    let value: serde_json::Value = go_unmarshal(body, "client.User").map_err(V2Error::text)?;
    let user = value.get("user").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let listed = value.get("roles").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let roles = if listed.iter().all(serde_json::Value::is_string) {
        listed.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect()
    } else if listed.iter().all(serde_json::Value::is_object) {
        // Go first decodes into []string: the objects leave empty strings, then the
        // fallback decoding appends the roles' names after them.
        let names = listed.iter().map(|r| r.get("role").and_then(|v| v.as_str()).unwrap_or_default().to_owned());
        std::iter::repeat_n(String::new(), listed.len()).chain(names).collect()
    } else {
        return Err(V2Error::text("json: cannot unmarshal object into Go struct field User.roles of type string"));
    };
    Ok(User { user, roles })
}

/// A v2 role as the Go client decodes it (`None` lists are Go's nil slices).
#[derive(Debug, Default, PartialEq, Eq, serde::Deserialize)]
struct Role {
    #[serde(default)]
    role: String,
    #[serde(default)]
    permissions: Permissions,
    #[serde(default)]
    grant: Option<Permissions>,
    #[serde(default)]
    revoke: Option<Permissions>,
}

#[derive(Debug, Default, PartialEq, Eq, serde::Deserialize)]
struct Permissions {
    #[serde(default)]
    kv: ReadWrite,
}

#[derive(Debug, Default, PartialEq, Eq, serde::Deserialize)]
struct ReadWrite {
    #[serde(default)]
    read: Option<Vec<String>>,
    #[serde(default)]
    write: Option<Vec<String>>,
}

async fn get_role(client: &mut Client, name: &str) -> Result<Role, V2Error> {
    let body = exchange(client, &action("GET", "roles", name, None), &[200]).await?;
    go_unmarshal(&body, "client.Role").map_err(V2Error::text)
}

/// etcdctl's `mustNewAuth*API`: a synced client, the endpoints once more with `--debug`.
async fn auth_client(ctl: &Ctl) -> Result<Client, Exit> {
    let client = ctl.client().await?;
    if ctl.global.bool("debug") {
        eprintln!("Cluster-Endpoints: {}", client.endpoints().join(", "));
    }
    Ok(client)
}

fn one_name(ctl: &Ctl, args: &[String], missing: &str) -> Result<String, Exit> {
    if args.len() != 1 {
        return Err(ctl.exit_with(missing));
    }
    Ok(args[0].clone())
}

const USER_MISSING: &str = "Please provide a username";
const ROLE_MISSING: &str = "Please provide a role name";

/// `user list`.
pub async fn user_list(ctl: &Ctl, args: &[String]) -> Outcome {
    if !args.is_empty() {
        return Err(ctl.exit_with("No arguments accepted"));
    }
    let mut client = auth_client(ctl).await?;
    let list = AuthAction { json_header: true, ..action("GET", "users", "", None) };
    let body = ctl.timed(exchange(&mut client, &list, &[200])).await.map_err(|e| ctl.exit_with(e))?;
    let value: serde_json::Value =
        go_unmarshal(&body, "struct { Users []client.userListEntry }").map_err(|e| ctl.exit_with(e))?;
    for user in value.get("users").and_then(|v| v.as_array()).into_iter().flatten() {
        println!("{}", user.get("user").and_then(|v| v.as_str()).unwrap_or_default());
    }
    Ok(())
}

/// `user add <user>[:password]`.
pub async fn user_add(ctl: &Ctl, args: &[String]) -> Outcome {
    let arg = one_name(ctl, args, USER_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let user = arg.split(':').next().unwrap_or_default().to_owned();
    let (_, password) = username_password("New password: ", &arg).map_err(|e| {
        eprintln!("Error reading password: {e}");
        Exit(1)
    })?;
    let body = user_json(&user, &password);
    let add = action("PUT", "users", &user, Some(body));
    ctl.timed(exchange(&mut client, &add, &[200, 201])).await.map_err(|e| ctl.exit_with(e))?;
    println!("User {user} created");
    Ok(())
}

/// `user remove <user>`.
pub async fn user_remove(ctl: &Ctl, args: &[String]) -> Outcome {
    let user = one_name(ctl, args, USER_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let remove = action("DELETE", "users", &user, None);
    ctl.timed(exchange(&mut client, &remove, &[200, 201])).await.map_err(|e| ctl.exit_with(e))?;
    println!("User {user} removed");
    Ok(())
}

/// `user passwd <user>`.
pub async fn user_passwd(ctl: &Ctl, args: &[String]) -> Outcome {
    let user = one_name(ctl, args, USER_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let password = ask("New password: ").map_err(|e| {
        eprintln!("Error reading password: {e}");
        Exit(1)
    })?;
    let body = user_json(&user, &password);
    let change = action("PUT", "users", &user, Some(body));
    let body = ctl.timed(exchange(&mut client, &change, &[200])).await.map_err(|e| ctl.exit_with(e))?;
    decode_user(&body).map_err(|e| ctl.exit_with(e))?;
    println!("Password updated");
    Ok(())
}

/// `user grant|revoke <user> --roles <role>...`.
pub async fn user_grant_revoke(ctl: &Ctl, flags: &Flags, args: &[String], grant: bool) -> Outcome {
    let roles = flags.strings("roles");
    if roles.is_empty() {
        return Err(ctl.exit_with("No roles specified; please use `--roles`"));
    }
    let user = one_name(ctl, args, USER_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let field = if grant { "grant" } else { "revoke" };
    let body = format!(
        "{{\"user\":\"{}\",\"roles\":null,\"{field}\":{}}}",
        crate::print::json_escape(&user),
        json_list(&roles)
    );
    let change = action("PUT", "users", &user, Some(body));
    let body = ctl.timed(exchange(&mut client, &change, &[200])).await.map_err(|e| ctl.exit_with(e))?;
    decode_user(&body).map_err(|e| ctl.exit_with(e))?;
    println!("User {user} updated");
    Ok(())
}

/// `user get <user>`.
pub async fn user_get(ctl: &Ctl, args: &[String]) -> Outcome {
    let name = one_name(ctl, args, USER_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let body = ctl
        .timed(exchange(&mut client, &action("GET", "users", &name, None), &[200]))
        .await
        .map_err(|e| ctl.exit_with(e))?;
    let user = decode_user(&body).map_err(|e| ctl.exit_with(e))?;
    println!("User: {}", user.user);
    println!("Roles: {}", user.roles.join(" "));
    Ok(())
}

/// `role list`.
pub async fn role_list(ctl: &Ctl, args: &[String]) -> Outcome {
    if !args.is_empty() {
        return Err(ctl.exit_with("No arguments accepted"));
    }
    let mut client = auth_client(ctl).await?;
    let list = AuthAction { json_header: true, ..action("GET", "roles", "", None) };
    let response = ctl.timed(client.request(&list, false)).await.map_err(|e| ctl.exit_with(e))?;
    assert_status(response.status, &[200]).map_err(|e| ctl.exit_with(e))?;
    #[derive(serde::Deserialize)]
    struct Roles {
        #[serde(default)]
        roles: Option<Vec<Role>>,
    }
    let roles: Roles = go_unmarshal(&response.body, "struct { Roles []client.Role }").map_err(|e| ctl.exit_with(e))?;
    for role in roles.roles.unwrap_or_default() {
        println!("{}", role.role);
    }
    Ok(())
}

/// `role add <role>`.
pub async fn role_add(ctl: &Ctl, args: &[String]) -> Outcome {
    let role = one_name(ctl, args, ROLE_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let body = format!(
        "{{\"role\":\"{}\",\"permissions\":{{\"kv\":{{\"read\":null,\"write\":null}}}}}}",
        crate::print::json_escape(&role)
    );
    let outcome = ctl
        .timed(async {
            if get_role(&mut client, &role).await.is_ok() {
                return Ok(false);
            }
            exchange(&mut client, &action("PUT", "roles", &role, Some(body)), &[200, 201]).await.map(|_| true)
        })
        .await;
    match outcome {
        Ok(false) => {
            eprintln!("Role {role} already exists");
            Err(Exit(1))
        }
        Ok(true) => {
            println!("Role {role} created");
            Ok(())
        }
        Err(e) => Err(ctl.exit_with(e)),
    }
}

/// `role remove <role>`.
pub async fn role_remove(ctl: &Ctl, args: &[String]) -> Outcome {
    let role = one_name(ctl, args, ROLE_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let remove = action("DELETE", "roles", &role, None);
    ctl.timed(exchange(&mut client, &remove, &[200, 201])).await.map_err(|e| ctl.exit_with(e))?;
    println!("Role {role} removed");
    Ok(())
}

/// `role grant|revoke <role> --path <path> --read|--write|--readwrite`.
pub async fn role_grant_revoke(ctl: &Ctl, flags: &Flags, args: &[String], grant: bool) -> Outcome {
    let path = flags.string("path");
    if path.is_empty() {
        return Err(ctl.exit_with("No path specified; please use `--path`"));
    }
    let canonical = super::gourl::canonical(&path);
    if canonical != path {
        return Err(ctl.exit_with(format!("Not canonical path; please use `--path={canonical}`")));
    }
    let (read, write, rw) = (flags.bool("read"), flags.bool("write"), flags.bool("readwrite"));
    if [read, write, rw].iter().filter(|b| **b).count() != 1 {
        return Err(ctl.exit_with("Please specify exactly one of --read, --write or --readwrite"));
    }
    let role = one_name(ctl, args, ROLE_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let prefixes = json_list(std::slice::from_ref(&path));
    let (r, w) = match (read, write) {
        (true, _) => (prefixes.as_str(), "null"),
        (_, true) => ("null", prefixes.as_str()),
        _ => (prefixes.as_str(), prefixes.as_str()),
    };
    let field = if grant { "grant" } else { "revoke" };
    let body = format!(
        "{{\"role\":\"{}\",\"permissions\":{{\"kv\":{{\"read\":null,\"write\":null}}}},\"{field}\":{{\"kv\":{{\"read\":{r},\"write\":{w}}}}}}}",
        crate::print::json_escape(&role)
    );
    let outcome = ctl
        .timed(async {
            let current = get_role(&mut client, &role).await?;
            let body = exchange(&mut client, &action("PUT", "roles", &role, Some(body)), &[200]).await?;
            let updated: Role = go_unmarshal(&body, "client.Role").map_err(V2Error::text)?;
            Ok(current == updated)
        })
        .await;
    let unchanged = match outcome {
        Ok(unchanged) => unchanged,
        Err(e) => return Err(ctl.exit_with(e)),
    };
    if unchanged {
        print!("{}", if grant { "Role unchanged; already granted" } else { "Role unchanged; already revoked" });
    }
    println!("Role {role} updated");
    Ok(())
}

/// `role get <role>`.
pub async fn role_get(ctl: &Ctl, args: &[String]) -> Outcome {
    let name = one_name(ctl, args, ROLE_MISSING)?;
    let mut client = auth_client(ctl).await?;
    let role = ctl.timed(get_role(&mut client, &name)).await.map_err(|e| ctl.exit_with(e))?;
    println!("Role: {}", role.role);
    println!("KV Read:");
    for path in role.permissions.kv.read.iter().flatten() {
        println!("\t{path}");
    }
    println!("KV Write:");
    for path in role.permissions.kv.write.iter().flatten() {
        println!("\t{path}");
    }
    Ok(())
}

/// `auth enable|disable`.
pub async fn enable_disable(ctl: &Ctl, args: &[String], enable: bool) -> Outcome {
    if !args.is_empty() {
        return Err(ctl.exit_with("No arguments accepted"));
    }
    let mut client = auth_client(ctl).await?;
    let method = if enable { "PUT" } else { "DELETE" };
    ctl.timed(exchange(&mut client, &action(method, "enable", "", None), &[200, 201]))
        .await
        .map_err(|e| ctl.exit_with(e))?;
    println!("{}", if enable { "Authentication Enabled" } else { "Authentication Disabled" });
    Ok(())
}
