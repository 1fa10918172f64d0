import HubAPI
import HubCore
import HubCrypto
import HubProcess

/// The household's web dashboard on the HTTPS listener (docs/dashboard.md): sign-in, sessions
/// and CSRF here; everything else is the control API's own routes, answered with the member's
/// identity (`member:NAME`), so the pages are the API's clients and the rules are the hub's.
///
/// Routes: `/` the page; `/ui/app.js`, `/ui/app.css` its files (read once at start);
/// `POST /ui/login`, `POST /ui/logout`, `GET /ui/session`, `POST /ui/confirm` (the password
/// again, for a sensitive action); `/ui/api/…` the control API. Anything else is AWS's
/// data-plane API (SigV4).
struct Dashboard: HTTPResponder {
    let api: ControlAPI
    let dataPlane: DataPlaneAPI
    let sessions: MemberSessions
    let identities: IdentityTable
    let access: AccessGate
    let clock: any HubClock
    /// The page's files by URL path, with their content type.
    let files: [String: (type: String, bytes: [UInt8])]

    static let cookie = "homehub_session"

    /// Reads the page's files from `directory` (at start, not per request). A missing folder is
    /// a hub without a dashboard: `/` says where it looked.
    static func files(in directory: String) -> [String: (type: String, bytes: [UInt8])] {
        var files: [String: (type: String, bytes: [UInt8])] = [:]
        for (path, name, type) in [
            ("/", "index.html", "text/html; charset=utf-8"), ("/ui/app.js", "app.js", "text/javascript; charset=utf-8"),
            ("/ui/app.css", "app.css", "text/css; charset=utf-8"),
        ] {
            if let bytes = FileContents.read(directory + "/" + name, limit: 1 << 20) { files[path] = (type, bytes) }
        }
        return files
    }

    /// Strict: nothing but the hub's own files, no inline script or style, no framing.
    static let securityHeaders: [(name: String, value: String)] = [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"),
        ("Cache-Control", "no-store"),
    ]

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        let path = request.path
        guard path == "/" || path == "/index.html" || path.hasPrefix("/ui/") else {
            return await dataPlane.respond(to: request)
        }
        var response = await route(request)
        response.headers += Self.securityHeaders
        return response
    }

    func route(_ request: HTTPRequest) async -> HTTPResponse {
        let path = request.path == "/index.html" ? "/" : request.path
        if request.method == "GET", let file = files[path] {
            return HTTPResponse(status: 200, headers: [("Content-Type", file.type)], body: .bytes(file.bytes))
        }
        if path == "/" {
            return .error(404, "this hub has no dashboard files (looked for index.html in [http] ui_dir)")
        }
        // Changes come as JSON only: a cross-site form cannot send it without the browser asking first.
        if request.method != "GET", request.method != "HEAD",
            request.header("content-type")?.lowercased().hasPrefix("application/json") != true
        {
            return .error(415, "send JSON (Content-Type: application/json)")
        }
        var request = request
        request.json = request.bodyJSON
        switch (request.method, path) {
        case ("POST", "/ui/login"): return login(request)
        case ("GET", "/ui/session"):
            guard let (_, session) = current(request) else { return .error(401, "not signed in") }
            return .json(sessionBody(session))
        case ("POST", "/ui/logout"):
            guard let (token, session) = current(request) else { return .error(401, "not signed in") }
            if let refusal = csrfRefusal(request, session) { return refusal }
            sessions.revoke(token)
            return .json(["signedOut": true], headers: [("Set-Cookie", Self.clearCookie)])
        case ("POST", "/ui/confirm"):
            guard let (token, session) = current(request) else { return .error(401, "not signed in") }
            if let refusal = csrfRefusal(request, session) { return refusal }
            // Guessing here is guessing a password: the same limits as signing in.
            let now = clock.epochSeconds()
            let address = request.remoteAddress ?? "unknown"
            if let refusal = sessions.refusal(member: session.member, address: address, now: now) {
                access.audit(
                    .member(session.member, confirmed: false), path: "dashboard", action: "confirm password",
                    target: session.member, result: 429, detail: "\(refusal) (from \(address))")
                return .error(429, refusal)
            }
            guard let member = identities.member(session.member),
                let password = request.json?["password"]?.stringValue,
                MemberPassword.verify(password, against: member.passwordHash)
            else {
                sessions.failed(member: session.member, address: address, now: now)
                access.audit(
                    .member(session.member, confirmed: false), path: "dashboard", action: "confirm password",
                    target: session.member, result: 401, detail: "wrong password (from \(address))")
                return .error(401, "that is not your password")
            }
            sessions.succeeded(member: session.member)
            sessions.confirm(token, now: now)
            return .json(["confirmedFor": .integer(Int64(AccessRules.confirmationMinutes * 60))])
        default:
            break
        }
        guard path.hasPrefix("/ui/api/") else { return .error(404, "no such page: \(path)") }
        guard let (_, session) = current(request) else {
            return .error(401, "not signed in (or the session ended): sign in again")
        }
        if request.method != "GET", let refusal = csrfRefusal(request, session) { return refusal }
        var forwarded = request
        forwarded.path = String(path.dropFirst("/ui/api".count))
        forwarded.target = String(request.target.dropFirst("/ui/api".count))
        forwarded.via = "dashboard"
        let confirmed = session.confirmedAt.map {
            clock.epochSeconds() - $0 <= Int64(AccessRules.confirmationMinutes * 60)
        }
        forwarded.identity = .member(session.member, confirmed: confirmed ?? false)
        return await api.respond(to: forwarded)
    }

    // MARK: - Sign-in

    func login(_ request: HTTPRequest) -> HTTPResponse {
        guard let name = request.json?["name"]?.stringValue, let password = request.json?["password"]?.stringValue
        else {
            return .error(400, "send {\"name\": …, \"password\": …}")
        }
        let now = clock.epochSeconds()
        let address = request.remoteAddress ?? "unknown"
        if let refusal = sessions.refusal(member: name, address: address, now: now) {
            access.audit(
                .member(name, confirmed: false), path: "dashboard", action: "sign in", target: name, result: 429,
                detail: "\(refusal) (from \(address))")
            return .error(429, refusal)
        }
        // A name that does not exist costs the same hash: timing does not tell names apart.
        let member = identities.member(name)
        let valid = MemberPassword.verify(password, against: member?.passwordHash ?? Self.decoy)
        guard valid, let member else {
            sessions.failed(member: name, address: address, now: now)
            access.audit(
                .member(name, confirmed: false), path: "dashboard", action: "sign in", target: name, result: 401,
                detail: "wrong name or password (from \(address))")
            return .error(401, "wrong name or password")
        }
        sessions.succeeded(member: name)
        let (token, _) = sessions.create(member: member.name, now: now)
        access.audit(
            .member(member.name, confirmed: true), path: "dashboard", action: "sign in", target: member.name,
            result: 200, detail: "from \(address)")
        guard let session = sessions.session(token, now: now) else { return .error(500, "the session was lost") }
        return .json(
            sessionBody(session),
            headers: [
                (
                    "Set-Cookie",
                    "\(Self.cookie)=\(token); Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=\(MemberSessions.lifetimeSeconds)"
                )
            ])
    }

    static let clearCookie = "\(cookie)=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
    /// A hash nobody's password matches, verified when the name is unknown.
    static let decoy = MemberPassword.hash(BrokerPassword.generate())

    func sessionBody(_ session: MemberSessions.Session) -> JSONValue {
        [
            "name": .string(session.member),
            "role": .string(identities.role(ofMember: session.member)?.rawValue ?? "none"),
            "csrf": .string(session.csrf),
        ]
    }

    /// The session named by the request's cookie.
    func current(_ request: HTTPRequest) -> (String, MemberSessions.Session)? {
        guard let header = request.header("cookie") else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, String(pair[0]).trimmingWhitespace() == Self.cookie else { continue }
            let token = String(pair[1]).trimmingWhitespace()
            if let session = sessions.session(token, now: clock.epochSeconds()),
                identities.member(session.member) != nil
            {
                return (token, session)
            }
        }
        return nil
    }

    func csrfRefusal(_ request: HTTPRequest, _ session: MemberSessions.Session) -> HTTPResponse? {
        guard let sent = request.header("x-csrf-token"), sent.utf8.count == session.csrf.utf8.count,
            zip(sent.utf8, session.csrf.utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
        else {
            access.audit(
                .member(session.member, confirmed: false), path: "dashboard",
                action: "\(request.method) \(request.path)",
                target: session.member, result: 403, detail: "missing or wrong CSRF token")
            return .error(403, "missing or wrong CSRF token (X-CSRF-Token): reload the page")
        }
        return nil
    }
}
