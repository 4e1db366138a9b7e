import Foundation
import QRTCore

/// `qrt-detr check-config FILE`: validates a daemon config; every problem on its own line,
/// naming the field. Exit status 0 when valid, 1 when not.
enum CheckConfigCommand {
    static let help = """
        usage: qrt-detr check-config [--load-model] FILE

          FILE           the daemon's JSON config (see systemd/qrt-detr.json)
          --load-model   also load the model the config names, as serve would
        """

    static func run(_ commandLine: [String]) throws -> Int32 {
        if commandLine.contains("--help") { print(help); return 0 }
        let arguments = try Arguments(commandLine, valued: [], flags: ["load-model"])
        guard arguments.positional.count == 1, let path = arguments.positional.first else {
            throw Arguments.UsageError(description: arguments.positional.isEmpty ? "no FILE given" : "give exactly one FILE")
        }
        let config: DaemonConfig
        do {
            config = try ConfigParser.load(path: path)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            return 1
        }
        if arguments.flag("load-model") {
            do {
                _ = try RTDetrModel.load(path: URL(fileURLWithPath: config.model.path))
            } catch {
                FileHandle.standardError.write(Data("\(path): model.path: cannot load \(config.model.path): \(error)\n".utf8))
                return 1
            }
        }
        print("\(path): ok — \(summary(config))")
        return 0
    }

    static func summary(_ config: DaemonConfig) -> String {
        let streams = config.streams.map { "\($0.id) (\($0.kind.rawValue)\($0.enabled ? "" : ", disabled"))" }
        let metrics = config.metrics.map { "metrics on \($0.bind):\($0.port)" } ?? "no metrics server"
        return "model \(config.model.id) at \(config.model.inputSize)×\(config.model.inputSize); "
            + "\(config.streams.count) stream\(config.streams.count == 1 ? "" : "s"): \(streams.joined(separator: ", ")); "
            + "sinks: \(config.sinks.map(\.name).joined(separator: ", ")); \(metrics)"
    }
}
