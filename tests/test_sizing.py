"""Parameters left at None follow the table's size; a value the user gives is kept."""

from synthvae import SynthVAE
from synthvae.inspection import describe_model, format_description
from synthvae.sizing import SIZED, resolve

# The values tuned on Adult, which every table from 5,000 rows up gets.
ADULT_DEFAULTS = {"epochs": 100, "patience": 20, "latent_dim": 16, "hidden": (192, 192), "encoder_hidden": (192,),
                  "beta": 0.5, "prior_components": 600}


def test_defaults_follow_the_table_size_and_keep_given_values():
    params = SynthVAE().get_params()
    assert all(params[name] is None for name in SIZED)
    small, large = resolve(params, 200), resolve(params, 20_000)
    assert large == ADULT_DEFAULTS  # large tables train as before
    assert small != large
    assert resolve(params, 1_000) == small and resolve(params, 2_000) not in (small, large)  # between the two
    given = {**params, "epochs": 7, "hidden": (24,), "beta": 0.25}
    assert {k: resolve(given, 200)[k] for k in ("epochs", "hidden", "beta")} == {"epochs": 7, "hidden": (24,), "beta": 0.25}
    # A private fit's noise is planned for a fixed training: it keeps the large-table values.
    assert resolve({**params, "epsilon": 1.0}, 200) == ADULT_DEFAULTS


def test_a_fit_records_what_it_chose_and_the_file_says_so(fitted, mixed_frame, tmp_path):
    # ``fitted`` gives epochs, hidden, latent_dim and prior_components, and leaves beta and patience at None.
    assert fitted.beta is None and fitted.patience is None  # the constructor's arguments stay as given
    chosen = resolve(fitted.get_params(), len(mixed_frame))
    assert fitted.chosen_ == {"beta": chosen["beta"], "patience": chosen["patience"]}
    path = tmp_path / "m.synthvae"
    fitted.save(path)
    loaded = SynthVAE.load(path)
    assert loaded.get_params() == fitted.get_params() and loaded.chosen_ == fitted.chosen_
    info = describe_model(path)
    assert info["parameters"]["beta"] == chosen["beta"] and info["parameters"]["hidden"] == list(fitted.hidden)
    assert sorted(info["chosen_for_size"]) == ["beta", "patience"]
    assert f"chosen for {len(mixed_frame)} rows" in format_description(info)
