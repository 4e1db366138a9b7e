import Foundation

/// `qrt-detr` — RT-DETR detection, quantization and the stream daemon behind one executable.
let usage = """
    usage: qrt-detr <command> [options]

    commands:
      detect        detect objects in images, one JSON object per image
      bench         time inference on a synthetic frame
      quantize      post-training quantization of a checkpoint into a .qrt artifact (QRT-DETR)
      eval          COCO box AP of a model on annotated images (pycocotools' 12 numbers)
      serve         run the stream daemon (see systemd/qrt-detr.json)
      check-config  validate a daemon config file

    run 'qrt-detr <command> --help' for the options of one command
    """

let commandLine = Array(CommandLine.arguments.dropFirst())
guard let command = commandLine.first, command != "--help", command != "-h" else {
    print(usage)
    exit(commandLine.isEmpty ? 64 : 0)
}
let rest = Array(commandLine.dropFirst())

let commands: [String: ([String]) throws -> Int32] = [
    "detect": DetectCommand.run,
    "bench": BenchCommand.run,
    "quantize": QuantizeCommand.run,
    "eval": EvalCommand.run,
    "serve": ServeCommand.run,
    "check-config": CheckConfigCommand.run,
]

guard let handler = commands[command] else {
    FileHandle.standardError.write(Data("qrt-detr: unknown command '\(command)'\n\(usage)\n".utf8))
    exit(64)
}
do {
    exit(try handler(rest))
} catch let error as Arguments.UsageError {
    FileHandle.standardError.write(Data("qrt-detr \(command): \(error.description)\n".utf8))
    exit(64)
} catch {
    FileHandle.standardError.write(Data("qrt-detr \(command): \(error)\n".utf8))
    exit(1)
}
