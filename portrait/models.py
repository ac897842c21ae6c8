"""A person's personal data: photos, clone, renders and outputs, all held as ciphertext.

Every model here that holds personal data keeps only the *name* of an encrypted blob in the
vault; the bytes are encrypted with the owner's data key, which exists only wrapped.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Subject(models.Model):
    """The person whose face Sitter processes; the owner of every personal-data object."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subject"
    )
    selfie_blob = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("subject")
        verbose_name_plural = _("subjects")

    def __str__(self):
        return f"subject {self.pk}"

    def current_clone(self):
        return self.clones.filter(status=Clone.Status.READY).order_by("-finished_at").first()


class DataKey(models.Model):
    """A person's data key, stored only wrapped by the key-encryption key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.OneToOneField(Subject, on_delete=models.CASCADE, related_name="data_key")
    wrapped = models.BinaryField()
    kek_id = models.CharField(max_length=32, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("data key")
        verbose_name_plural = _("data keys")

    def __str__(self):
        return f"data key {self.pk}"


class Photo(models.Model):
    """An accepted upload: a metadata-free JPEG and its face descriptor, both encrypted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="photos")
    number = models.PositiveIntegerField(help_text=_("Shown to the person as #n."))
    blob = models.CharField(max_length=255)
    signature_blob = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    quality = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["number"]
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        constraints = [
            models.UniqueConstraint(fields=["subject", "number"], name="unique_photo_number")
        ]

    def __str__(self):
        return f"photo #{self.number}"


class Job(models.Model):
    """One unit of queued work, with what the person sees of its progress."""

    class Kind(models.TextChoices):
        TRAIN = "train", _("Clone training")
        RENDER = "render", _("Render")
        REFINE = "refine", _("Clone refinement")

    # The queue each kind runs on. A refinement trains, so it waits with the trainings and
    # never holds up a render.
    QUEUES = {Kind.TRAIN: "train", Kind.REFINE: "train", Kind.RENDER: "render"}

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting in the queue")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    task_id = models.CharField(max_length=64, blank=True)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    # Each claim by a worker counts one attempt; the count also fences the claim: a worker
    # writes the job only while the row still says RUNNING with its own attempt number.
    attempts = models.PositiveIntegerField(default=0)
    # Who runs the job (portrait.liveness: host, pid and start time of the worker process)
    # and its last sign of life: beaten while it runs, the time it was put on the queue while
    # it waits there.
    worker = models.CharField(max_length=128, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        indexes = [models.Index(fields=["kind", "status", "queued_at"])]

    def __str__(self):
        return f"{self.kind} job {self.pk}"

    @property
    def is_active(self):
        return self.status in self.ACTIVE

    @property
    def queue(self):
        return self.QUEUES[self.kind]

    def queue_position(self):
        """How many jobs wait before this one on its queue (0 when it runs or has run)."""
        if self.status != self.Status.QUEUED:
            return 0
        kinds = [kind for kind, queue in self.QUEUES.items() if queue == self.queue]
        return Job.objects.filter(
            kind__in=kinds, status=self.Status.QUEUED, queued_at__lt=self.queued_at
        ).count()


class Clone(models.Model):
    """A person's LoRA adapter and reference face descriptor, both encrypted."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        TRAINING = "training", _("Training")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="clones")
    # RESTRICT, not PROTECT: a job outlives its record, except when the person is erased and
    # both go in one cascade.
    job = models.OneToOneField(Job, on_delete=models.RESTRICT, related_name="clone")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    base_model = models.CharField(max_length=200)
    photo_count = models.PositiveIntegerField(default=0)
    config = models.JSONField(default=dict)
    adapter_blob = models.CharField(max_length=255, blank=True)
    reference_blob = models.CharField(max_length=255, blank=True)
    checkpoint_blob = models.CharField(max_length=255, blank=True)
    checkpoint_step = models.PositiveIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    final_loss = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("clone")
        verbose_name_plural = _("clones")

    def __str__(self):
        return f"clone {self.pk}"


class Render(models.Model):
    """A request to render portraits in one style with a clone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="renders")
    clone = models.ForeignKey(Clone, on_delete=models.SET_NULL, null=True, related_name="renders")
    job = models.OneToOneField(Job, on_delete=models.RESTRICT, related_name="render")
    style = models.CharField(max_length=64)
    options = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("render")
        verbose_name_plural = _("renders")

    def __str__(self):
        return f"render {self.pk} ({self.style})"


class Output(models.Model):
    """One finished portrait: provenance applied, signed, encrypted."""

    class Feedback(models.TextChoices):
        """The person's judgement of the likeness, which a refinement trains on."""

        NONE = "none", _("Not marked")
        LIKE = "like", _("Looks like me")
        UNLIKE = "unlike", _("Does not look like me")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="outputs")
    render = models.ForeignKey(Render, on_delete=models.CASCADE, related_name="outputs")
    rank = models.PositiveIntegerField()
    blob = models.CharField(max_length=255)
    mime = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    settings = models.JSONField(default=dict)
    likeness_distance = models.FloatField(null=True, blank=True)
    face_found = models.BooleanField(default=False)
    watermark_id = models.BigIntegerField(unique=True)
    feedback = models.CharField(max_length=8, choices=Feedback.choices, default=Feedback.NONE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["render", "rank"]
        verbose_name = _("output")
        verbose_name_plural = _("outputs")
        constraints = [
            models.UniqueConstraint(fields=["render", "rank"], name="one_output_per_rank")
        ]

    def __str__(self):
        return f"output {self.pk}"

    @property
    def extension(self):
        return {"image/png": "png", "image/jpeg": "jpg"}.get(self.mime, "bin")


class Refinement(models.Model):
    """A "make it look more like me" run: the clone trained further on the person's feedback,
    kept only if fresh renders came out closer to the person's reference face.

    Likeness is the median descriptor distance of those renders to the reference (lower is
    closer); once the run has finished, an empty likeness means no face was found in most of
    them.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="refinements")
    clone = models.ForeignKey(
        Clone, on_delete=models.SET_NULL, null=True, related_name="refinements"
    )
    job = models.OneToOneField(Job, on_delete=models.RESTRICT, related_name="refinement")
    liked = models.PositiveIntegerField(default=0, help_text=_("Liked renders trained on."))
    unliked = models.PositiveIntegerField(default=0, help_text=_("Unliked renders trained on."))
    steps = models.PositiveIntegerField(default=0)
    likeness_before = models.FloatField(null=True, blank=True)
    likeness_after = models.FloatField(null=True, blank=True)
    kept = models.BooleanField(
        null=True, blank=True, help_text=_("Whether the refined adapter replaced the old one.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("refinement")
        verbose_name_plural = _("refinements")

    def __str__(self):
        return f"refinement {self.pk}"
