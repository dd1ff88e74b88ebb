//! `patchbay users`: the people of a tenant who sign in through its identity provider.

use clap::Subcommand;
use patchbay_api::{Operation, User, UserCreate, UserList, UserRole, UserUpdate};
use reqwest::Method;

use crate::client::{escape, print_json, table, CliError, Client};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// List the tenant's users.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Add a user before their first sign-in (needed when just-in-time provisioning is off).
    Create {
        #[arg(long)]
        tenant: String,
        /// The subject (NameID) the identity provider sends for the user.
        #[arg(long)]
        name_id: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// tenant_admin or tenant_viewer.
        #[arg(long, value_parser = parse_role)]
        role: UserRole,
    },
    /// Change a user's role, or disable or enable them (a disabled user is signed out at once).
    Set {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long, value_parser = parse_role)]
        role: Option<UserRole>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Remove a user.
    Delete {
        #[arg(long)]
        tenant: String,
        id: String,
    },
}

fn parse_role(text: &str) -> Result<UserRole, String> {
    UserRole::parse(text).ok_or_else(|| "a user's role is tenant_admin or tenant_viewer".to_owned())
}

fn print_user(user: &User) {
    let role = user.role.role().as_str();
    let state = if user.enabled { "enabled" } else { "disabled" };
    println!("{} {} ({role}, {state})", user.id, escape(user.email.as_deref().unwrap_or(&user.name_id)));
}

pub async fn users(client: &Client, command: UsersCommand) -> Result<(), CliError> {
    match command {
        UsersCommand::List { tenant } => {
            let list: UserList = client.get(&Operation::ListUsers.url(&[&tenant])).await?;
            if client.json {
                return print_json(&list.items);
            }
            let rows: Vec<Vec<String>> = list
                .items
                .iter()
                .map(|u| {
                    vec![
                        u.id.to_string(),
                        u.role.role().as_str().to_owned(),
                        if u.enabled { "enabled".into() } else { "disabled".into() },
                        escape(&u.created_by),
                        u.last_sign_in_at.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339()),
                        escape(&u.name_id),
                        escape(u.email.as_deref().unwrap_or("-")),
                    ]
                })
                .collect();
            table(&["ID", "ROLE", "STATE", "CREATED BY", "LAST SIGN-IN", "SUBJECT", "EMAIL"], &rows);
            Ok(())
        }
        UsersCommand::Create { tenant, name_id, email, display_name, role } => {
            let body = UserCreate { name_id, email, display_name, role };
            let user: User = client.send(Method::POST, &Operation::CreateUser.url(&[&tenant]), &body).await?;
            if client.json {
                return print_json(&user);
            }
            print_user(&user);
            Ok(())
        }
        UsersCommand::Set { tenant, id, role, disable, enable } => {
            let path = Operation::GetUser.url(&[&tenant, &id]);
            let current: User = client.get(&path).await?;
            let enabled = if disable { false } else { enable || current.enabled };
            let body = UserUpdate { role: role.unwrap_or(current.role), enabled };
            let user: User = client.send_if(Method::PUT, &path, Some(&body), Some(current.version)).await?;
            if client.json {
                return print_json(&user);
            }
            print_user(&user);
            Ok(())
        }
        UsersCommand::Delete { tenant, id } => {
            client.delete(&Operation::DeleteUser.url(&[&tenant, &id]), None).await?;
            println!("deleted {id}");
            Ok(())
        }
    }
}
