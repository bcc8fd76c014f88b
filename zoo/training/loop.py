"""One strategy-aware custom training loop for one device, mirrored, multi-worker and TPU.

Keras 3 ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585,
see ``shared/TOOLCHAIN.md``); a loop over ``strategy.run`` works under every strategy, so the
zoo has only this loop:

* ``strategy.experimental_distribute_dataset`` splits each global batch over the replicas;
* the per-example losses are summed and divided by the *global* batch size
  (``tf.nn.compute_average_loss``), and the Keras optimizer all-reduces (sums) the gradients,
  so one step equals one step on a single device with the whole batch;
* ``tf.train.CheckpointManager`` keeps model + optimizer + step: a killed run started again
  continues from its last checkpoint;
* ``tf.summary`` writes TensorBoard scalars and sample images; a tqdm bar runs on the chief.
"""
import contextlib
import dataclasses
import os
import shutil
import time
from typing import Any, Optional

import keras
import numpy as np
import tensorflow as tf

from zoo.training.config import STRATEGIES

CHECKPOINT_SUBDIR = "checkpoints"
LOG_SUBDIR = "logs"


def _metadata(plugin_name):
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin_name
    return metadata


def write_scalar(name, value, step=None):
    """Writes a TensorBoard scalar with ``tf.summary.write`` (no ``tensorboard`` package needed).

    Args:
        name: tag, e.g. ``"train/loss"``.
        value: a float.
        step: int step, or None to use the default writer's step.

    Returns:
        True if a summary was written.

    Example:
        >>> import tempfile, tensorflow as tf
        >>> from zoo.training.loop import write_scalar
        >>> with tf.summary.create_file_writer(tempfile.mkdtemp()).as_default(step=0):
        ...     written = write_scalar("loss", 1.0)
    """
    # Same layout as tensorboard.summary.v2.scalar: a float32 scalar, plugin "scalars".
    return tf.summary.write(name, tf.constant(float(value), tf.float32), step=step,
                            metadata=_metadata("scalars"))


def write_images(name, images, step=None, max_outputs=8):
    """Writes uint8 ``(K, H, W, 3)`` images as a TensorBoard image summary (PNG-encoded).

    Args:
        name: tag, e.g. ``"val/predicted_landmarks"``.
        images: uint8 array ``(K, H, W, 3)``.
        step: int step, or None to use the default writer's step.
        max_outputs: at most this many images are written.

    Returns:
        True if a summary was written.

    Example:
        >>> import numpy as np, tempfile, tensorflow as tf
        >>> from zoo.training.loop import write_images
        >>> with tf.summary.create_file_writer(tempfile.mkdtemp()).as_default(step=0):
        ...     written = write_images("faces", np.zeros((2, 8, 8, 3), np.uint8))
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (K, H, W, 3). Received: images.shape={images.shape}"
                         f", dtype={images.dtype}")
    images = images[:max_outputs]
    # Same layout as tensorboard.summary.v2.image: [width, height, png_1, ..., png_K].
    encoded = [tf.io.encode_png(image) for image in images]
    tensor = tf.stack([tf.constant(str(images.shape[2])), tf.constant(str(images.shape[1]))]
                      + encoded)
    return tf.summary.write(name, tensor, step=step, metadata=_metadata("images"))


def split_cpu(num_devices):
    """Splits the CPU into ``num_devices`` logical devices (for ``MirroredStrategy`` on a laptop).

    Must run before TensorFlow initialises its devices (before any op), so call it first thing.

    Args:
        num_devices: number of logical CPU devices (>= 1).

    Returns:
        The logical CPU device names.

    Example:
        >>> import zoo.training
        >>> # must be the first TensorFlow call of a process (the doctest process has run others)
        >>> zoo.training.split_cpu(2)  # doctest: +SKIP
        ['/device:CPU:0', '/device:CPU:1']
    """
    if not isinstance(num_devices, int) or num_devices < 1:
        raise ValueError(f"num_devices must be a positive integer. Received: num_devices={num_devices!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])
    except RuntimeError as error:
        raise ValueError("split_cpu must run before TensorFlow initialises its devices. "
                         f"Received: num_devices={num_devices}") from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def make_strategy(name, tpu_address=None):
    """Builds a ``tf.distribute.Strategy`` by name.

    Args:
        name: ``"one_device"`` (first GPU, else CPU), ``"mirrored"`` (all local GPUs, else all
            logical CPU devices), ``"multi_worker"`` (``MultiWorkerMirroredStrategy``, cluster
            from the ``TF_CONFIG`` environment variable; create it before any other TF work),
            or ``"tpu"`` (``TPUStrategy``; ``tpu_address`` or the environment's default TPU).
        tpu_address: TPU name or grpc address, only for ``"tpu"``.

    Returns:
        The strategy.

    Example:
        >>> import zoo.training
        >>> strategy = zoo.training.make_strategy("one_device")
        >>> strategy.num_replicas_in_sync
        1
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: name={name!r}")
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """True on the worker that writes checkpoints, logs and progress bars.

    Args:
        strategy: a ``tf.distribute.Strategy``.

    Returns:
        bool: True for single-machine strategies, the ``chief`` task, or worker 0 of a
        cluster without a chief.

    Example:
        >>> import tensorflow as tf
        >>> import zoo.training
        >>> zoo.training.is_chief(tf.distribute.get_strategy())
        True
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return getattr(resolver, "task_id", 0) or 0


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_loop` returns.

    Attributes:
        model: the trained Keras model (variables live in the strategy's scope).
        optimizer: its optimizer (restored with the model on a resume).
        step: optimizer steps done in total (including those of earlier, resumed runs).
        start_step: the step this run started from (0, or the restored checkpoint's).
        history: ``[{"step": s, "loss": l}, ...]`` every ``log_every`` steps of this run.
        evaluations: ``[{"step": s, **metrics}, ...]`` from ``eval_fn``.
        restored_from: the checkpoint path restored at the start, or None.
        seconds: wall time of the training steps of this run.
    """

    model: Any
    optimizer: Any
    step: int
    start_step: int
    history: list
    evaluations: list
    restored_from: Optional[str]
    seconds: float


def _distribute(strategy, dataset):
    options = tf.data.Options()
    # Random-tensor and generator datasets have no files to shard by; shard by element.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


@contextlib.contextmanager
def _policy(mixed_precision):
    previous = keras.mixed_precision.global_policy().name
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def train_loop(model_fn, loss_fn, dataset, *, steps, output_dir, strategy=None,
               learning_rate=1e-4, optimizer_fn=None, checkpoint_every=1000, log_every=50,
               eval_fn=None, eval_every=0, image_fn=None, image_every=0,
               mixed_precision=False, progress=True, callbacks=(), max_to_keep=3):
    """Trains ``model_fn()`` on ``dataset`` under ``strategy``, resuming from ``output_dir``.

    Args:
        model_fn: no-argument callable building the Keras model (called in the strategy scope
            and under the mixed-precision policy when asked).
        loss_fn: ``loss_fn(targets, outputs) -> (B,)`` per-example losses (float32 outputs).
        dataset: ``tf.data.Dataset`` of ``(inputs, targets)`` *global* batches, long enough for
            ``steps`` (repeat it).
        steps: total optimizer steps; a resumed run stops at the same total.
        output_dir: checkpoints go to ``output_dir/checkpoints``, TensorBoard logs to
            ``output_dir/logs``.
        strategy: a ``tf.distribute.Strategy``; default the current (default) strategy.
        learning_rate: Adam learning rate (paper: 1e-4).
        optimizer_fn: optional no-argument callable returning a Keras optimizer (else Adam).
        checkpoint_every: steps between checkpoints; one is also written at the end.
        log_every: steps between loss scalars (TensorBoard and ``history``).
        eval_fn: optional ``eval_fn(model) -> {name: float}``, run on the chief at the start,
            every ``eval_every`` steps and at the end; written to TensorBoard.
        eval_every: steps between ``eval_fn`` calls (0: start and end only).
        image_fn: optional ``image_fn(model) -> uint8 (K, H, W, 3)`` images of predicted
            landmarks for TensorBoard.
        image_every: steps between ``image_fn`` calls (0: end only).
        mixed_precision: build under ``mixed_float16`` and scale the loss
            (``keras.optimizers.LossScaleOptimizer``).
        progress: show a tqdm progress bar on the chief.
        callbacks: callables ``fn(step, loss)`` run after every step on every worker.
        max_to_keep: checkpoints kept.

    Returns:
        A :class:`TrainResult`.

    Example:
        >>> import keras, tempfile, tensorflow as tf
        >>> import zoo.training
        >>> def model_fn():
        ...     inputs = keras.Input((4,))
        ...     return keras.Model(inputs, keras.layers.Dense(1)(inputs))
        >>> def loss_fn(targets, outputs):
        ...     return tf.reduce_mean(tf.square(targets - outputs), axis=-1)
        >>> data = tf.data.Dataset.from_tensors((tf.ones((8, 4)), tf.ones((8, 1)))).repeat()
        >>> result = zoo.training.train_loop(model_fn, loss_fn, data, steps=3,
        ...                                  output_dir=tempfile.mkdtemp(), progress=False)
        >>> result.step
        3
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer. Received: steps={steps!r}")
    if not isinstance(checkpoint_every, int) or checkpoint_every <= 0:
        raise ValueError("checkpoint_every must be a positive integer. "
                         f"Received: checkpoint_every={checkpoint_every!r}")
    if not isinstance(log_every, int) or log_every <= 0:
        raise ValueError(f"log_every must be a positive integer. Received: log_every={log_every!r}")
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)

    with _policy(mixed_precision), strategy.scope():
        model = model_fn()
        optimizer = optimizer_fn() if optimizer_fn else keras.optimizers.Adam(learning_rate)
        if mixed_precision:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        # Create the slot variables now so that a restore fills them instead of deferring.
        optimizer.build(model.trainable_variables)
        step_variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        checkpoint = tf.train.Checkpoint(model=model_variables(model), optimizer=optimizer,
                                         step=step_variable)

    checkpoint_dir = os.path.join(output_dir, CHECKPOINT_SUBDIR)
    # Every worker saves (saving can need collectives); only the chief's copy is kept.
    write_dir = checkpoint_dir if chief else os.path.join(
        checkpoint_dir, f".worker_{_task_id(strategy)}")
    manager = tf.train.CheckpointManager(checkpoint, write_dir, max_to_keep=max_to_keep)
    restored_from = tf.train.latest_checkpoint(checkpoint_dir)
    if restored_from:
        checkpoint.restore(restored_from).assert_existing_objects_matched()
    start_step = int(step_variable.numpy())
    if restored_from and chief:
        print(f"Resumed from {restored_from} at step {start_step} (of {steps}).")

    if chief:
        os.makedirs(output_dir, exist_ok=True)
        writer = tf.summary.create_file_writer(os.path.join(output_dir, LOG_SUBDIR))
    else:
        writer = tf.summary.create_noop_writer()

    def step_fn(inputs, targets):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            outputs = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), outputs)
            per_example = loss_fn(targets, outputs)
            # Divide by the global batch: the optimizer sums gradients over replicas.
            loss = tf.nn.compute_average_loss(per_example)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled_loss = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def train_step(iterator):
        inputs, targets = next(iterator)
        per_replica = strategy.run(step_fn, args=(inputs, targets))
        step_variable.assign_add(1)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    history, evaluations = [], []

    def evaluate(step):
        if eval_fn is None or not chief:
            return
        metrics = {name: float(value) for name, value in eval_fn(model).items()}
        evaluations.append({"step": step, **metrics})
        with writer.as_default(step=step):
            for name, value in metrics.items():
                write_scalar(f"val/{name}", value)

    def images(step):
        if image_fn is None or not chief:
            return
        with writer.as_default(step=step):
            write_images("val/predicted_landmarks", image_fn(model))

    if start_step == 0:
        evaluate(0)
    bar = None
    if progress and chief and start_step < steps:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=start_step, desc="train", unit="step", dynamic_ncols=True)
    iterator = iter(_distribute(strategy, dataset))
    step = start_step
    started = time.perf_counter()
    try:
        while step < steps:
            loss = float(train_step(iterator))
            step += 1
            if not np.isfinite(loss):
                raise FloatingPointError(f"Training loss became {loss} at step {step}.")
            if step % log_every == 0 or step == steps:
                history.append({"step": step, "loss": loss})
                with writer.as_default(step=step):
                    write_scalar("train/loss", loss)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}")
            if step % checkpoint_every == 0 or step == steps:
                manager.save(checkpoint_number=step)
            if eval_every and step % eval_every == 0 and step != steps:
                evaluate(step)
            if image_every and step % image_every == 0 and step != steps:
                images(step)
            for callback in callbacks:
                callback(step, loss)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    if step > start_step or start_step == 0:
        evaluate(step)
        images(step)
    writer.flush()
    if not chief:
        shutil.rmtree(write_dir, ignore_errors=True)
    return TrainResult(model=model, optimizer=optimizer, step=step, start_step=start_step, history=history,
                       evaluations=evaluations, restored_from=restored_from, seconds=seconds)


def restore_model(model, output_dir):
    """Loads the model weights of the latest checkpoint in ``output_dir`` into ``model``.

    Args:
        model: a Keras model with the same architecture as the trained one.
        output_dir: the run folder given to :func:`train_loop`.

    Returns:
        The restored step (int).

    Example:
        >>> import keras, tensorflow as tf
        >>> import zoo.training
        >>> def model_fn():
        ...     inputs = keras.Input((4,))
        ...     return keras.Model(inputs, keras.layers.Dense(1)(inputs))
        >>> data = tf.data.Dataset.from_tensors((tf.ones((8, 4)), tf.ones((8, 1)))).repeat()
        >>> result = zoo.training.train_loop(
        ...     model_fn, lambda t, o: tf.reduce_mean(tf.square(t - o), axis=-1), data, steps=2,
        ...     output_dir="run", progress=False)
        >>> zoo.training.restore_model(model_fn(), "run")
        2
    """
    path = tf.train.latest_checkpoint(os.path.join(output_dir, CHECKPOINT_SUBDIR))
    if path is None:
        raise ValueError(f"No checkpoint found. Received: output_dir={output_dir}")
    step = tf.Variable(0, dtype=tf.int64)
    status = tf.train.Checkpoint(model=model_variables(model), step=step).restore(path)
    status.expect_partial().assert_existing_objects_matched()
    return int(step.numpy())


def model_variables(model):
    """Every variable of a Keras 3 model, keyed by position, for ``tf.train.Checkpoint``.

    ``tf.train.Checkpoint(model=keras3_model)`` tracks only the variables of top-level layers:
    the weights and batch-norm statistics of nested layers (an hourglass inside a functional
    model) would be missing from the checkpoint. A flat dict of all variables is complete. The
    keys are positions, not paths: paths carry auto-generated layer names (``dense_3``) that
    change with what else the process built, while the order of ``model.variables`` is fixed
    by the architecture.
    """
    variables = {f"variable_{index:05d}": variable
                 for index, variable in enumerate(model.variables)}
    return variables
