"""Certificates for a Dask cluster that encrypts and authenticates every connection.

:func:`make_certificates` creates, with ``cryptography``, a certificate authority (CA) and a
certificate and key for the scheduler, the workers and a client, all signed by that CA, and for
each of those roles a Dask configuration file that names the CA's certificate and that role's
own certificate and key, with ``require-encryption: true``::

    from daskpar.tls import make_certificates
    files = make_certificates("certs", hosts=["10.0.0.5"])  # certs/ca.pem, ...-key.pem
    # on 10.0.0.5, with ca.pem, scheduler.pem and scheduler-key.pem:
    # dask scheduler --protocol tls --host 10.0.0.5 --tls-ca-file certs/ca.pem \\
    #     --tls-cert certs/scheduler.pem --tls-key certs/scheduler-key.pem
    # on a worker, with files.needed_by("worker"):
    # DASK_CONFIG=certs/dask-tls-worker.yaml dask worker tls://10.0.0.5:8786 --host ...
    client = distributed.Client("tls://10.0.0.5:8786", security=files.security())

Dask's TLS requires every party to present a certificate signed by the CA, and checks it: a
plaintext client, a client or worker without a certificate, or with one from another CA or
expired, cannot connect. (Dask does not check host names against certificates: the CA is
the access control.) :func:`issue_certificate` signs one more certificate with the CA, such
as one per user, whose subject the audit log records as the user.

Keys are ECDSA P-256, written unencrypted (Dask's TLS reads no passphrases) and readable by
their owner only (mode 0600). Give each process only the files :meth:`TLSFiles.needed_by`
lists for its role: every connected client can run code on the workers, and that code can
read any file a worker can, so a key on a worker is a key its clients hold. ``ca-key.pem``
stays where the certificates were made.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from numbers import Integral
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from ._sklearn_compat import Interval, InvalidParameterError, StrOptions, validate_params

__all__ = [
    "CONFIG_FILES",
    "ROLES",
    "TLSFiles",
    "issue_certificate",
    "make_certificates",
]

#: The parties of a Dask cluster that hold a certificate.
ROLES: Final[tuple[str, ...]] = ("scheduler", "worker", "client")
#: The name of each role's Dask configuration file, written next to the certificates.
CONFIG_FILES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "scheduler": "dask-tls-scheduler.yaml",
        "worker": "dask-tls-worker.yaml",
        "client": "dask-tls-client.yaml",
    }
)
#: The one configuration naming every role's key, which earlier versions wrote.
_ALL_ROLES_CONFIG_FILE = "dask-tls.yaml"
#: Certificates are valid from a little before they are made: clocks differ.
_CLOCK_SKEW = timedelta(minutes=5)

Role = Literal["scheduler", "worker", "client"]


@dataclass(frozen=True)
class TLSFiles:
    """The files of :func:`make_certificates` in ``directory``, and what uses them.

    Parameters
    ----------
    directory : path-like
        The directory holding ``ca.pem``, ``ca-key.pem``, and ``<role>.pem``,
        ``<role>-key.pem`` and ``dask-tls-<role>.yaml`` for each role (``scheduler``,
        ``worker``, ``client``).

    Examples
    --------
    >>> from daskpar.tls import TLSFiles
    >>> files = TLSFiles("certs")
    >>> files.cli_args("worker")  # doctest: +NORMALIZE_WHITESPACE
    ['--tls-ca-file', 'certs/ca.pem', '--tls-cert', 'certs/worker.pem',
     '--tls-key', 'certs/worker-key.pem']
    >>> [path.name for path in files.needed_by("worker")]
    ['ca.pem', 'worker.pem', 'worker-key.pem', 'dask-tls-worker.yaml']
    """

    directory: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", Path(self.directory))

    @property
    def ca_file(self) -> Path:
        """The CA's certificate: what every party checks the others' certificates against."""
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """The CA's private key: it signs certificates. Keep it away from the cluster."""
        return self.directory / "ca-key.pem"

    def config_file(self, role: str) -> Path:
        """The Dask configuration file (YAML) of ``role``: :meth:`config` of ``role``."""
        return self.directory / CONFIG_FILES[_checked_role(role, "TLSFiles.config_file")]

    def cert(self, role: str) -> Path:
        """The certificate of ``role`` ("scheduler", "worker", "client" or an issued name)."""
        return self.directory / f"{role}.pem"

    def key(self, role: str) -> Path:
        """The private key of ``role``."""
        return self.directory / f"{role}-key.pem"

    def needed_by(self, role: str) -> tuple[Path, Path, Path, Path]:
        """The files a process of ``role`` needs, and the only ones to give it.

        ``ca.pem``, the role's certificate and key, and its Dask configuration: mount these
        into a container one by one (never the directory, which holds every key and the
        CA's), or copy them to the machine.
        """
        role = _checked_role(role, "TLSFiles.needed_by")
        return self.ca_file, self.cert(role), self.key(role), self.config_file(role)

    def cli_args(self, role: str) -> list[str]:
        """The ``--tls-*`` options of ``dask scheduler`` and ``dask worker`` for ``role``."""
        return [
            "--tls-ca-file",
            str(self.ca_file),
            "--tls-cert",
            str(self.cert(role)),
            "--tls-key",
            str(self.key(role)),
        ]

    def security(self, role: str = "client") -> Any:
        """A ``distributed.Security`` for a client holding ``role``'s certificate.

        Encryption is required: a ``tcp://`` address is refused.
        """
        from distributed import Security

        return Security(
            tls_ca_file=str(self.ca_file),
            tls_client_cert=str(self.cert(role)),
            tls_client_key=str(self.key(role)),
            require_encryption=True,
        )

    def local_security(self) -> Any:
        """A ``distributed.Security`` with every role's files, for a ``LocalCluster``.

        The scheduler, the workers and the client of an embedded cluster live in one process
        (and its children): ``LocalCluster(protocol="tls", host="127.0.0.1",
        security=files.local_security())``.
        """
        from distributed import Security

        return Security(
            tls_ca_file=str(self.ca_file),
            **{
                f"tls_{role}_{kind}": str(path(role))
                for role in ROLES
                for kind, path in (("cert", self.cert), ("key", self.key))
            },
            require_encryption=True,
        )

    def config(
        self, role: str, *, directory: str | os.PathLike[str] | None = None
    ) -> dict[str, Any]:
        """Dask's settings for ``role``, by dotted key: ``dask.config.set(files.config(role))``.

        They name the CA's certificate and ``role``'s own certificate and key, and no other
        role's: a worker's configuration does not hold the client's key, nor the reverse.

        Parameters
        ----------
        role : {"scheduler", "worker", "client"}
            The process that uses the configuration.
        directory : path-like, default=None
            Where that process finds the files, if not in :attr:`directory` (a container's
            mount point, such as ``/certs``).

        Returns
        -------
        dict
            ``distributed.comm.tls.ca-file`` and ``distributed.comm.tls.<role>.{cert,key}``
            paths, ``distributed.comm.default-scheme: tls`` and
            ``distributed.comm.require-encryption: True``.
        """
        role = _checked_role(role, "TLSFiles.config")
        where = Path(directory) if directory is not None else self.directory.resolve()
        tls = "distributed.comm.tls"
        return {
            "distributed.comm.default-scheme": "tls",
            "distributed.comm.require-encryption": True,
            f"{tls}.ca-file": str(where / self.ca_file.name),
            f"{tls}.{role}.cert": str(where / self.cert(role).name),
            f"{tls}.{role}.key": str(where / self.key(role).name),
        }


def _checked_role(role: str, where: str) -> str:
    """``role``, if it is one of :data:`ROLES`; scikit-learn's error naming ``where`` if not."""
    if role not in ROLES:
        among = ", ".join(map(repr, sorted(ROLES)))
        raise InvalidParameterError(
            f"The 'role' parameter of {where} must be a str among {{{among}}}. "
            f"Got {role!r} instead."
        )
    return role


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``: the form of a configuration file."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, last = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _write_private(path: Path, data: bytes, *, mode: int, overwrite: bool) -> None:
    """Write ``data`` to a new file with ``mode`` (set before any byte is written).

    The file is always new (``O_EXCL``, and ``O_NOFOLLOW``): with ``overwrite``, the old one
    is unlinked first, never opened, so that a file or link that someone else put there is
    replaced, not written through (a key written into a file another user owns would stay
    readable by them, whatever its mode).
    """
    if overwrite and (path.is_symlink() or path.exists()):
        path.unlink()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace the certificates."
        ) from None
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # the umask may have taken bits off
        f.write(data)


def _private_directory(directory: Path) -> None:
    """Create ``directory`` with mode 0700, or refuse an existing one that another user owns
    or that others may write: its owner, or they, could read or replace the keys in it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if directory.is_symlink() or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PermissionError(
            f"{directory} is a link, belongs to another user, or others may write to it "
            f"(owner uid {info.st_uid}, mode {info.st_mode & 0o777:o}): the keys written "
            "there would not be private. Pass a new folder, or one of yours with mode 0700."
        )


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "daskpar"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alternative_names(hosts: Sequence[str]) -> Any:
    from cryptography import x509

    names: list[Any] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _build(
    subject: Any, issuer: Any, public_key: Any, signing_key: Any, days: int, *, ca: bool
) -> Any:
    """A certificate builder with the fields every certificate here has."""
    from cryptography import x509

    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _leaf(
    role: str, name: str, hosts: Sequence[str], days: int, ca_cert: Any, ca_key: Any
) -> tuple[Any, Any]:
    """A key and a certificate for ``role`` named ``name``, signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _new_key()
    # The scheduler and the workers both listen and connect; a client only connects.
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if role != "client":
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        _build(_name(name), ca_cert.subject, key.public_key(), ca_key, days, ca=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(_alternative_names(hosts), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return data


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


_HOSTS = [list, tuple]
_DAYS = [Interval(Integral, 1, None, closed="left")]


@validate_params(
    {
        "directory": [str, os.PathLike],
        "hosts": _HOSTS,
        "days": _DAYS,
        "config_directory": [str, os.PathLike, None],
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_certificates(
    directory: str | os.PathLike[str],
    *,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    days: int = 365,
    config_directory: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> TLSFiles:
    """Create a CA, the scheduler's, workers' and a client's certificates, and their Dask configs.

    Written to ``directory`` (created, mode 0700, if missing): ``ca.pem`` and ``ca-key.pem``;
    ``scheduler.pem``, ``worker.pem``, ``client.pem`` and their ``-key.pem`` files; and
    ``dask-tls-scheduler.yaml``, ``dask-tls-worker.yaml`` and ``dask-tls-client.yaml``, each a
    Dask configuration (:meth:`TLSFiles.config`) that names ``ca.pem`` and its role's own
    certificate and key only, with ``default-scheme: tls`` and ``require-encryption: true``.
    Key files have mode 0600, the others 0644.

    Give each process only what its role needs, :meth:`TLSFiles.needed_by`: ``ca.pem``, its
    own certificate and key, and its configuration. Every client can run code on the workers,
    and so read what they can read: a key on a worker is a key every client holds.
    ``ca-key.pem`` signs new certificates (:func:`issue_certificate`); anyone holding it can
    make any certificate, so it never leaves the machine that made it.

    Parameters
    ----------
    directory : str or path-like
        Where to write the files.
    hosts : sequence of str, default=("127.0.0.1", "localhost")
        The scheduler's and workers' addresses and host names, put in their certificates'
        subject alternative names (IP addresses or DNS names).
    days : int, default=365
        How long the certificates are valid.
    config_directory : str or path-like, default=None
        The directory named in the configurations, when the processes read the files from
        another place than ``directory`` (``/certs`` inside containers); by default the
        absolute path of ``directory``.
    overwrite : bool, default=False
        Replace existing files; otherwise an existing file is an error. A ``dask-tls.yaml``
        there, the configuration with every role's key that earlier versions wrote, is
        removed.

    Returns
    -------
    TLSFiles
        The paths, with :meth:`TLSFiles.needed_by` for what each role gets,
        :meth:`TLSFiles.security` for a client and :meth:`TLSFiles.cli_args` for
        ``dask scheduler`` and ``dask worker``.

    Examples
    --------
    >>> import tempfile
    >>> from daskpar.tls import make_certificates
    >>> files = make_certificates(tempfile.mkdtemp())
    >>> oct(files.key("client").stat().st_mode & 0o777)
    '0o600'
    >>> print(files.config_file("worker").read_text().replace(str(files.directory.resolve()), "~"))
    distributed:
      comm:
        default-scheme: tls
        require-encryption: true
        tls:
          ca-file: ~/ca.pem
          worker:
            cert: ~/worker.pem
            key: ~/worker-key.pem
    <BLANKLINE>
    """
    from cryptography.hazmat.primitives import hashes

    yaml = importlib.import_module("yaml")  # dask's own dependency; it ships no types
    files = TLSFiles(Path(directory))
    _private_directory(files.directory)
    ca_key = _new_key()
    ca_name = _name(f"daskpar CA {secrets.token_hex(4)}")  # each CA its own name
    ca_cert = (
        _build(ca_name, ca_name, ca_key.public_key(), ca_key, days, ca=True)
        .add_extension(_ca_key_usage(), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.ca_key, _key_pem(ca_key), mode=0o600, overwrite=overwrite)
    _write_private(files.ca_file, _pem(ca_cert), mode=0o644, overwrite=overwrite)
    for role in ROLES:
        key, cert = _leaf(
            role, f"daskpar-{role}", hosts if role != "client" else (), days, ca_cert, ca_key
        )
        _write_private(files.key(role), _key_pem(key), mode=0o600, overwrite=overwrite)
        _write_private(files.cert(role), _pem(cert), mode=0o644, overwrite=overwrite)
    for role in ROLES:
        config = files.config(role, directory=config_directory)
        text = yaml.safe_dump(_nested(config), sort_keys=False)
        _write_private(files.config_file(role), text.encode(), mode=0o644, overwrite=overwrite)
    if overwrite:
        (files.directory / _ALL_ROLES_CONFIG_FILE).unlink(missing_ok=True)
    return files


def _ca_key_usage() -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


@validate_params(
    {
        "directory": [str, os.PathLike],
        "name": [str],
        "role": [StrOptions(set(ROLES))],
        "hosts": _HOSTS,
        "days": _DAYS,
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def issue_certificate(
    directory: str | os.PathLike[str],
    name: str,
    *,
    role: Role = "client",
    hosts: Sequence[str] = (),
    days: int = 365,
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """Sign one more certificate with the CA of :func:`make_certificates` in ``directory``.

    One client certificate per user lets the audit log name the user (the certificate's
    subject, ``CN=<name>,O=daskpar``); one per worker machine keeps a machine's key on it.

    Parameters
    ----------
    directory : str or path-like
        Holds ``ca.pem`` and ``ca-key.pem``; ``<name>.pem`` and ``<name>-key.pem`` are
        written there.
    name : str
        The certificate's common name and the files' name: letters, digits, ``-``, ``_``
        and ``.``.
    role : {"client", "worker", "scheduler"}, default="client"
        A client's certificate serves to connect only; the others' to listen too.
    hosts : sequence of str, default=()
        Addresses and host names for a worker's or scheduler's certificate.
    days : int, default=365
        How long the certificate is valid.
    overwrite : bool, default=False
        Replace existing files of that name.

    Returns
    -------
    cert, key : Path
        The certificate and its private key (mode 0600).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if not name or not all(c.isalnum() or c in "-_." for c in name) or name[0] in ".-":
        raise ValueError(
            "The certificate name must be letters, digits, '-', '_' and '.', starting with a "
            f"letter or digit; got {name!r}."
        )
    if name == "ca":
        raise ValueError("The certificate name 'ca' is the CA's own; choose another.")
    files = TLSFiles(Path(directory))
    if not files.ca_key.exists():
        raise FileNotFoundError(f"{files.ca_key} does not exist: make the CA first.")
    _private_directory(files.directory)
    ca_cert = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    key, cert = _leaf(role, name, hosts, days, ca_cert, ca_key)
    _write_private(files.key(name), _key_pem(key), mode=0o600, overwrite=overwrite)
    _write_private(files.cert(name), _pem(cert), mode=0o644, overwrite=overwrite)
    return files.cert(name), files.key(name)
