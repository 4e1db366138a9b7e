import Foundation

/// `qrt-detr serve --config FILE`: the stream daemon (see `Daemon` and systemd/qrt-detr.service).
enum ServeCommand {
    static let help = """
        usage: qrt-detr serve --config FILE

          --config FILE   the daemon's JSON config (see systemd/qrt-detr.json; check it with
                          'qrt-detr check-config FILE')

        Records (JSON Lines, docs/detections.schema.json) go to the configured sinks; the log goes
        to stderr. SIGHUP reloads FILE, restarting only the streams whose config changed; SIGTERM
        or SIGINT drains the queues and sinks and exits. Under systemd (Type=notify) it reports
        READY, RELOADING, STOPPING, STATUS and, while frames make progress, WATCHDOG.
        """

    static func run(_ commandLine: [String]) throws -> Int32 {
        if commandLine.contains("--help") { print(help); return 0 }
        let arguments = try Arguments(commandLine, valued: ["config"], flags: [])
        guard arguments.positional.isEmpty else {
            throw Arguments.UsageError(description: "unexpected argument '\(arguments.positional[0])'")
        }
        let path = try arguments.required("config")
        // Flags first: a SIGTERM while the model loads is acted on as soon as the loop starts.
        SignalFlags.install()
        let config: DaemonConfig
        do {
            config = try ConfigParser.load(path: path)
        } catch {
            for line in error.lines { Log.shared.error(line) }
            return 1
        }
        return Daemon(config: config, configPath: path).run()
    }
}
