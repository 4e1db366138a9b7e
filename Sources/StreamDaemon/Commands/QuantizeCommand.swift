import Decode
import Foundation
import QRTCore

/// `qrt-detr quantize`: post-training quantization of an FP32 checkpoint into a `.qrt` artifact.
enum QuantizeCommand {
    static let help = """
        usage: qrt-detr quantize [--model DIR] --calib DIR -o MODEL.qrt [--images 32] [--bits w8a8|w6a6|w4a8|w4a4]
                                 [--method qrt|ema-mse|mse|percentile|ema-minmax|minmax] [--rounds 2]
                                 [--keep-fp32 PATTERN[,PATTERN...]] [--size N] [--threads N]

          --calib DIR       folder of calibration images (JPEG/PNG); the first --images of them, by name
          --bits            weight and activation bit widths (default w8a8)
          --method          activation calibration (default qrt: EMA-MSE + two-stage reconstruction)
          --rounds N        alternations of the two QRT stages (default 2)
          --keep-fp32 P     layer-name globs to keep in FP32, e.g. 'model.decoder.bbox_embed.*'
        """

    static func run(_ commandLine: [String]) throws -> Int32 {
        if commandLine.contains("--help") { print(help); return 0 }
        let arguments = try Arguments(
            commandLine, valued: ModelOptions.valued.union(["calib", "images", "bits", "method", "rounds", "keep-fp32", "output"]),
            flags: [])
        let options = try ModelOptions(arguments)
        let output = URL(fileURLWithPath: try arguments.required("output"))
        let count = try arguments.int("images", default: 32, range: 1...10_000)
        let bitsText = arguments.string("bits", default: "w8a8")
        guard let bits = BitWidths(bitsText) else {
            throw Arguments.UsageError(description: "option --bits must be one of \(BitWidths.supported.joined(separator: ", ")), got '\(bitsText)'")
        }
        let methodText = arguments.string("method", default: "qrt")
        guard let method = QuantizationMethod(rawValue: methodText) else {
            throw Arguments.UsageError(description: "option --method must be one of \(QuantizationMethod.allCases.map(\.rawValue).joined(separator: ", ")), got '\(methodText)'")
        }
        let rounds = try arguments.int("rounds", default: 2, range: 1...10)
        let keep = arguments.string("keep-fp32").map { $0.split(separator: ",").map(String.init) } ?? []
        let calibration = try CalibrationImages.list(URL(fileURLWithPath: try arguments.required("calib")), count: count)

        let started = Date()
        let detector = try options.loadDetector()
        guard detector.model.quantizedLayerCount == 0 else {
            throw Arguments.UsageError(description: "--model \(options.directory.path) is already quantized; quantize the FP32 checkpoint")
        }
        let bar = ProgressBar()
        let images = try calibration.enumerated().map { index, url -> Tensor in
            let image = try ImageReader.read(path: url.path, width: options.size, height: options.size)
            bar.update("loading calibration images", index + 1, calibration.count)
            return image.rgb.withUnsafeBufferPointer { Preprocess.tensor(rgb: $0, size: options.size) }
        }
        let plan = QuantizationPlan(method: method, bits: bits, rounds: rounds, keepFP32: keep)
        let summary = try Calibrator(model: detector.model, plan: plan).calibrate(images: images, progress: bar.update)
        bar.finish()

        let provenance = QRTArtifact.Provenance(
            method: method, bits: bits, rounds: method == .qrt ? rounds : 0, keepFP32: keep,
            sourceName: options.directory.lastPathComponent,
            sourceSHA256: try QRTArtifact.checkpointHash(directory: options.directory),
            calibrationImages: calibration.map(\.lastPathComponent), logitsSQNR: summary.logitsSQNR,
            inputSize: options.size)
        try QRTArtifact.write(detector.model, provenance: provenance, to: output)

        let sourceBytes = fileSize(options.directory.appendingPathComponent("model.safetensors"))
        let artifactBytes = fileSize(output)
        var lines = [
            "quantized \(options.directory.lastPathComponent) → \(output.path)",
            "  method \(method.rawValue), \(bits), \(images.count) calibration images, \(String(format: "%.0f", Date().timeIntervalSince(started))) s",
            "  layers: \(summary.quantizedLayers) quantized, \(summary.fp32Layers.count) kept in FP32",
        ]
        if summary.narrowedLayers > 0 {
            lines.append("  this CPU has no VNNI: \(summary.narrowedLayers) layers run their activations on fewer levels "
                         + "(fewest \(summary.fewestLevels)) so that its u8·s8 kernels cannot saturate; the artifact keeps 256")
        }
        for stage in summary.stages {
            lines.append(String(format: "  %@: relative error %.3e → %.3e", stage.name, stage.errorBefore, stage.errorAfter))
        }
        if let rejected = summary.rejectedReconstruction {
            lines.append(String(format: "  reconstruction not kept: it reached logits %.1f dB, boxes %.1f dB, below its EMA-MSE "
                                + "starting point; the artifact holds that starting point", rejected.logits, rejected.boxes))
        }
        lines.append(String(format: "  output SQNR vs FP32 (calibration images): logits %.1f dB, boxes %.1f dB; %.0f%% of queries selected alike",
                            summary.logitsSQNR, summary.boxesSQNR, summary.querySelectionOverlap * 100))
        lines.append(String(format: "  size: %.1f MB (%.2f× the source checkpoint's %.1f MB)", Double(artifactBytes) / 1e6,
                            Double(artifactBytes) / Double(max(1, sourceBytes)), Double(sourceBytes) / 1e6))
        print(lines.joined(separator: "\n"))
        return 0
    }

    private static func fileSize(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}

/// The calibration images of a folder: JPEG and PNG files, sorted by name.
enum CalibrationImages {
    static func list(_ folder: URL, count: Int) throws -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else {
            throw Arguments.UsageError(description: "--calib \(folder.path): not a readable folder")
        }
        let images = names.filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        guard !images.isEmpty else {
            throw Arguments.UsageError(description: "--calib \(folder.path): no JPEG or PNG images")
        }
        return images.prefix(count).map { folder.appendingPathComponent($0) }
    }
}

/// One self-rewriting progress line on stderr (only when stderr is a terminal or CI log).
final class ProgressBar {
    private var lastStage = ""
    private var lastDraw = Date.distantPast

    func update(_ stage: String, _ done: Int, _ total: Int) {
        let now = Date()
        guard stage != lastStage || done == total || now.timeIntervalSince(lastDraw) > 0.2 else { return }
        if stage != lastStage, !lastStage.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
        lastStage = stage
        lastDraw = now
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\r\(stage) [\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if !lastStage.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
