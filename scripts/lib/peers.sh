# Helpers that find or start the real peers tests talk to. Sourced by scripts/test and
# the benchmark scripts; every peer listens on loopback only.

PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
mkdir -p "$PEERS_DIR"

# Stops what ensure_* started (called on exit).
stop_peers() {
  if [ -n "${PEERS_PG_STOP:-}" ]; then $PEERS_PG_STOP >/dev/null 2>&1 || true; fi
  if [ -n "${S3S_FS_PID:-}" ]; then
    kill "$S3S_FS_PID" 2>/dev/null || true
    wait "$S3S_FS_PID" 2>/dev/null || true
    S3S_FS_PID=
  fi
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && echo "$dir"
}

# Installs the Debian packages the tests need when they are missing: PostgreSQL (server and
# client, unless one already answers on 127.0.0.1:5432), Python's pip and venv (moto and
# schemathesis), Chromium with its chromedriver (the admin screen's browser tests),
# Node.js with npm (the admin screen's type check), and SimpleSAMLphp with PHP's CLI, XML
# and mbstring modules, xmlsec1 and openssl (the SAML tests' identity provider, which they
# serve with `php -S`). SimpleSAMLphp comes without recommends and after php-cgi and
# mini-httpd (installed disabled), which meet its `php` and `apache2 | httpd` dependencies,
# so no Apache is installed or started. As root it runs apt-get; otherwise it prints the
# exact commands and stops.
ensure_debian_packages() {
  local need=()
  if ! { command -v psql >/dev/null && psql postgres://postgres@127.0.0.1:5432/postgres -Atqc 'select 1' >/dev/null 2>&1; }; then
    command -v psql >/dev/null || need+=(postgresql-client)
    [ -n "$(pg_bin)" ] || need+=(postgresql)
  fi
  command -v python3 >/dev/null || need+=(python3)
  python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
  python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  command -v npm >/dev/null || need+=(npm)
  local idp=() saml=()
  command -v php >/dev/null || idp+=(php-cli)
  php -r 'exit(extension_loaded("dom") ? 0 : 1);' 2>/dev/null || idp+=(php-xml)
  php -r 'exit(extension_loaded("mbstring") ? 0 : 1);' 2>/dev/null || idp+=(php-mbstring)
  command -v xmlsec1 >/dev/null || idp+=(xmlsec1)
  command -v openssl >/dev/null || idp+=(openssl)
  [ -d /usr/share/simplesamlphp/www ] || { idp+=(php-cgi mini-httpd); saml=(simplesamlphp); }
  [ ${#need[@]} -eq 0 ] && [ ${#idp[@]} -eq 0 ] && return 0
  local lean=(apt-get install -y --no-install-recommends)
  if [ "$(id -u)" != 0 ]; then
    echo "the tests need Debian packages that are missing; install them with:" >&2
    echo "  sudo apt-get update" >&2
    [ ${#need[@]} -eq 0 ] || echo "  sudo apt-get install -y ${need[*]}" >&2
    [ ${#idp[@]} -eq 0 ] || echo "  sudo ${lean[*]} ${idp[*]}" >&2
    [ ${#saml[@]} -eq 0 ] || echo "  sudo ${lean[*]} ${saml[*]}" >&2
    exit 1
  fi
  echo "installing ${need[*]} ${idp[*]} ${saml[*]} (apt-get)" >&2
  apt-get update -qq
  [ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ ${#idp[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive "${lean[@]}" -qq "${idp[@]}" >/dev/null
  [ ${#saml[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive "${lean[@]}" -qq "${saml[@]}" >/dev/null
}

# Sets PATCHBAY_TEST_DATABASE_URL: the one given, else a server answering on
# 127.0.0.1:5432 with trust auth, else a throwaway cluster started under target/peers.
ensure_postgres() {
  if [ -n "${PATCHBAY_TEST_DATABASE_URL:-}" ]; then return 0; fi
  local url="postgres://postgres@127.0.0.1:5432/postgres"
  if command -v psql >/dev/null && psql "$url" -Atqc 'select 1' >/dev/null 2>&1; then
    PATCHBAY_TEST_DATABASE_URL="$url"
    return 0
  fi
  local bin
  bin=$(pg_bin) || { echo "PostgreSQL is not installed: sudo apt-get install -y postgresql (or set PATCHBAY_TEST_DATABASE_URL)" >&2; exit 1; }
  local data="$PEERS_DIR/pg" port run=()
  port=$(free_port)
  if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); chown -R postgres "$PEERS_DIR"; fi
  rm -rf "$data"
  mkdir -p "$data" && [ "$(id -u)" = 0 ] && chown postgres "$data"
  "${run[@]}" "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$data" -l "$data/log" -o "-h 127.0.0.1 -p $port -k $data -c fsync=off -c max_connections=300" -w start >/dev/null
  PEERS_PG_STOP="${run[*]} $bin/pg_ctl -D $data -m immediate stop"
  trap 'stop_peers' EXIT
  PATCHBAY_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

# Makes sure the TypeScript compiler that checks the admin screen's JavaScript, and axe-core,
# which the browser tests run on every screen, are installed: the versions locked in
# crates/server/assets/package-lock.json, into that folder's
# node_modules (never globally), with `npm ci`, which prefers the npm cache so that it also
# works offline once it has run. Sets TSC to its command.
ensure_typescript() {
  local dir=crates/server/assets want have
  TSC="$dir/node_modules/.bin/tsc"
  want=$(node -p "const p = require('./$dir/package-lock.json').packages; [p['node_modules/typescript'].version, p['node_modules/axe-core'].version].join(' ')")
  have=$(node -p "['typescript', 'axe-core'].map(m => require('./$dir/node_modules/' + m + '/package.json').version).join(' ')" 2>/dev/null || true)
  if [ "$have" = "$want" ]; then return 0; fi
  (cd "$dir" && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error) \
    || { echo "cannot install TypeScript $want: (cd $dir && npm ci)" >&2; exit 1; }
}

# Makes sure the Zapier integration's packages (zapier/package-lock.json: zapier-platform-core
# and jest) are installed into zapier/node_modules for its tests, which
# crates/cli/tests/zapier_app.rs runs against a live patchbay: `npm ci` when node_modules is
# missing or older than the lock file. Install scripts are not run (none is needed).
ensure_zapier_app() {
  local dir=zapier
  if [ -d "$dir/node_modules" ] && [ ! "$dir/package-lock.json" -nt "$dir/node_modules" ]; then return 0; fi
  npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error \
    || { echo "cannot install the Zapier integration's packages: npm ci --prefix $dir" >&2; exit 1; }
}

# Makes sure moto's S3-compatible server (`moto_server`) and boto3 are installed. The S3
# connector tests start their own moto_server per test on a free loopback port and set it
# up with boto3, so nothing is started here.
ensure_moto() {
  if command -v moto_server >/dev/null && python3 -c 'import boto3' 2>/dev/null; then return 0; fi
  local pkgs=('moto[server]>=5.2,<6' boto3)
  python3 -m pip install --quiet "${pkgs[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "${pkgs[@]}" \
    || { echo "cannot install moto: pip install 'moto[server]' boto3" >&2; exit 1; }
  if command -v pyenv >/dev/null; then pyenv rehash; fi
  command -v moto_server >/dev/null || { echo "moto_server is not on PATH after pip install" >&2; exit 1; }
}

# Makes sure the Standard Webhooks reference verifier (Python `standardwebhooks`) is
# installed: the messenger edge's tests check that its subscription signatures verify with it.
ensure_standardwebhooks() {
  if python3 -c 'import standardwebhooks' 2>/dev/null; then return 0; fi
  python3 -m pip install --quiet 'standardwebhooks>=1.0,<2' 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages 'standardwebhooks>=1.0,<2' \
    || { echo "cannot install standardwebhooks: pip install standardwebhooks" >&2; exit 1; }
}

# Makes sure schemathesis (the OpenAPI fuzzer) is installed, in its own virtualenv under
# target/peers, and sets SCHEMATHESIS to its command.
ensure_schemathesis() {
  local venv="$PEERS_DIR/schemathesis-venv"
  SCHEMATHESIS="$venv/bin/schemathesis"
  if [ -x "$SCHEMATHESIS" ]; then return 0; fi
  python3 -m venv "$venv" || { echo "cannot create a virtualenv: apt-get install python3-venv" >&2; exit 1; }
  "$venv/bin/pip" install --quiet 'schemathesis>=4.32,<5' \
    || { echo "cannot install schemathesis: pip install 'schemathesis>=4.32,<5'" >&2; exit 1; }
}

# Makes sure the s3s-fs S3 server (Rust crate registry, 0.14.1: the newest that builds on our
# rustc) is installed, under target/peers/tools unless it is on PATH, and sets S3S_FS to its
# command. The first install builds it (about 1.5 min).
ensure_s3s_fs() {
  local root="$PEERS_DIR/tools"
  if command -v s3s-fs >/dev/null; then S3S_FS=$(command -v s3s-fs); return 0; fi
  S3S_FS="$root/bin/s3s-fs"
  if [ -x "$S3S_FS" ]; then return 0; fi
  echo "installing s3s-fs 0.14.1 into $root (about 1.5 min)" >&2
  cargo install --quiet --root "$root" s3s-fs@0.14.1 --features binary --locked \
    || { echo "cannot install s3s-fs: cargo install s3s-fs@0.14.1 --features binary --locked" >&2; exit 1; }
}

# Starts s3s-fs on a free loopback port (or PORT, to restart it where it was), serving the
# folder DIR (each subfolder is a bucket) with the credentials AK / SK:
# `start_s3s_fs DIR AK SK [LOG] [PORT]`. Sets S3S_FS_PORT, S3S_FS_URL and S3S_FS_PID;
# stop_peers stops it. Call ensure_s3s_fs first.
start_s3s_fs() {
  local dir=$1 ak=$2 sk=$3 log=${4:-/dev/null}
  mkdir -p "$dir"
  S3S_FS_PORT=${5:-$(free_port)}
  S3S_FS_URL="http://127.0.0.1:$S3S_FS_PORT"
  "$S3S_FS" --host 127.0.0.1 --port "$S3S_FS_PORT" --access-key "$ak" --secret-key "$sk" "$dir" >"$log" 2>&1 &
  S3S_FS_PID=$!
  local code
  for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$S3S_FS_URL/" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != 000 ]; then return 0; fi
    kill -0 "$S3S_FS_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "s3s-fs did not start on port $S3S_FS_PORT; its log: $log" >&2
  exit 1
}
